//go:build linux

package store

import (
	"errors"
	"fmt"
	"html"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/granarycdp/cdp/schema"
)

// EngineCluster makes an embedded engine one node of a sharded cluster
// (the sharded flavour of cluster mode, docs/scale-out.md): its
// configuration names the cluster's nodes in remote_servers, so the
// platform's Distributed tables on it reach the others.
//
// Two clusters are configured: Name, one shard per node (where fact tables
// are split), and schema.EverywhereCluster(Name), one shard whose replicas
// are all the nodes with internal_replication false (where the other
// tables are copied whole: an insert is written to every node).
//
// Nodes sign in to each other as PlatformUser with their own password, so
// every node's data folder must hold the same PlatformPasswordFile (copy
// it there before the first start).
type EngineCluster struct {
	Name  string
	Nodes []string // native addresses host:port, this node's included
}

// Validate checks the cluster can be written to a configuration.
func (c EngineCluster) Validate() error {
	if !identRE.MatchString(c.Name) {
		return fmt.Errorf("engine cluster name %q must match %s", c.Name, identRE)
	}
	if len(c.Nodes) == 0 {
		return errors.New("engine cluster: no nodes")
	}
	for _, n := range c.Nodes {
		if _, port, err := net.SplitHostPort(n); err != nil || port == "" {
			return fmt.Errorf("engine cluster node %q: want host:port", n)
		}
	}
	return nil
}

// ports are the nodes' native ports, which the engine may connect to.
func (c EngineCluster) ports() []int {
	var out []int
	for _, n := range c.Nodes {
		_, p, _ := net.SplitHostPort(n)
		if port, err := strconv.Atoi(p); err == nil {
			out = append(out, port)
		}
	}
	return out
}

// remoteServersXML renders the cluster's remote_servers section.
func (c EngineCluster) remoteServersXML(password string) string {
	replica := func(b *strings.Builder, node, indent string) {
		host, port, _ := net.SplitHostPort(node)
		fmt.Fprintf(b, "%s<replica><host>%s</host><port>%s</port><user>%s</user><password>%s</password></replica>\n",
			indent, html.EscapeString(host), port, PlatformUser, html.EscapeString(password))
	}
	var b strings.Builder
	b.WriteString("  <remote_servers>\n    <" + c.Name + ">\n")
	for _, n := range c.Nodes {
		b.WriteString("      <shard>\n        <internal_replication>false</internal_replication>\n")
		replica(&b, n, "        ")
		b.WriteString("      </shard>\n")
	}
	everywhere := schema.EverywhereCluster(c.Name)
	b.WriteString("    </" + c.Name + ">\n    <" + everywhere + ">\n")
	b.WriteString("      <shard>\n        <internal_replication>false</internal_replication>\n")
	for _, n := range c.Nodes {
		replica(&b, n, "        ")
	}
	b.WriteString("      </shard>\n    </" + everywhere + ">\n  </remote_servers>\n")
	return b.String()
}

// clusterGrants are the platform user's extra rights on a cluster node: it
// creates Distributed tables.
var clusterGrants = []string{"GRANT TABLE ENGINE ON Distributed"}

// engineConfigXML is the engine's configuration file: its users
// (engineUsersXML) and, for a cluster node, the platform user's right to
// create Distributed tables and the cluster's remote_servers.
func engineConfigXML(password string, opts EngineOptions) (string, error) {
	if opts.Cluster == nil {
		return engineUsersXML(password, platformGrants, opts.BI, opts.defaultQueries)
	}
	if err := opts.Cluster.Validate(); err != nil {
		return "", err
	}
	out, err := engineUsersXML(password, slices.Concat(platformGrants, clusterGrants), opts.BI, opts.defaultQueries)
	if err != nil {
		return "", err
	}
	body, ok := strings.CutSuffix(out, "</clickhouse>\n")
	if !ok {
		return "", errors.New("BUG: engine configuration does not end with </clickhouse>")
	}
	// Every session on a node, the BI user's and clickhouse-client's too,
	// runs IN and JOIN subqueries over fact tables GLOBAL (see
	// ShardedSettings): the BI views join facts split between shards.
	mode := "<distributed_product_mode>global</distributed_product_mode>"
	body = strings.Replace(body, "  <profiles>\n    <default/>\n", "  <profiles>\n    <default>"+mode+"</default>\n", 1)
	body = strings.Replace(body, "    <bi>\n      <readonly>1</readonly>\n", "    <bi>\n      <readonly>1</readonly>\n      "+mode+"\n", 1)
	if want := 1 + min(len(opts.BI.Name), 1); strings.Count(body, mode) != want {
		return "", errors.New("BUG: engine configuration: the profiles' distributed_product_mode not written")
	}
	return body + opts.Cluster.remoteServersXML(password) + "</clickhouse>\n", nil
}
