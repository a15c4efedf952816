package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
)

// TestBenchIdentityOnly runs `cdp bench --identity-only` on a small world:
// the identity and memory figures come out, and nothing of the ingest run
// or the campaign plan (which would need an engine and minutes).
func TestBenchIdentityOnly(t *testing.T) {
	var c config
	if _, err := c.parse("bench", []string{"--identity-only", "--json", "--persons", "3000"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !c.BenchIdentityOnly {
		t.Fatal("--identity-only was not parsed")
	}
	var out bytes.Buffer
	if err := benchCommand(context.Background(), c, slog.New(slog.NewTextHandler(io.Discard, nil)), &out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Persons int `json:"persons"`
		Lines   []benchLine
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	areas := map[string]int{}
	var graph float64
	for _, l := range got.Lines {
		areas[l.Area]++
		if l.Area == "identity" && l.Measure == "graph memory" {
			graph = l.Value
		}
	}
	if got.Persons != 3000 || areas["identity"] == 0 || areas["memory"] == 0 || graph <= 0 {
		t.Fatalf("persons %d, lines per area %v, graph %v MB: want the identity and memory figures", got.Persons, areas, graph)
	}
	for area := range areas {
		if area != "identity" && area != "memory" {
			t.Errorf("area %q ran: want only identity and memory with --identity-only (%v)", area, areas)
		}
	}
}

// TestBenchIdentityStopsOnSignal: SIGINT or SIGTERM (main's context) stops
// `cdp bench` in its identity phase, which held on to the signal for the
// whole resolution (most of an hour at 10M persons).
func TestBenchIdentityStopsOnSignal(t *testing.T) {
	var c config
	if _, err := c.parse("bench", []string{"--identity-only", "--json", "--persons", "3000"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := benchCommand(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)), &out)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("bench with its context done: %v, want context.Canceled", err)
	}
	if out.Len() != 0 {
		t.Errorf("a stopped bench printed figures: %s", out.String())
	}
}
