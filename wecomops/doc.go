// Package wecomops runs the platform's private-domain (私域) operations in
// WeCom: it reads the corp tag library and every customer's tags into
// person tags usable in rules (prefixed TagPrefix, e.g. "wecom:米复购28天"),
// and writes segments back to WeCom as corp tags (mark_tag per staff
// member and customer), kept current as members enter and leave.
//
// WeCom sends no callback for changes made through its API, so the
// platform keeps its own record of every tag it wrote (wecom_tag_marks):
// an intent row before each mark_tag call, its outcome after. Only what
// that record says the platform added is ever removed, and a tag a staff
// member had put on a pair by hand before the platform came to it is
// recorded as theirs ("manual") and never touched. After a crash the
// intents without an outcome are made again; mark_tag is idempotent, so
// a repeat changes nothing in WeCom.
//
// Calls are paced under WeCom's per-API frequency limits (10,000 a minute
// and 150,000 an hour per corp, document/path/90454) by a sliding-window
// limiter a little below them; errcode 45009 backs off 60 s, doubling up
// to an hour while it repeats; 42001/40014 are renewed by the client;
// HTTP 5xx and errcode -1 back off and retry.
package wecomops
