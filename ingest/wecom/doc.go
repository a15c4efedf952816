// Package wecom ingests data from WeCom (企业微信): it verifies and decrypts
// callbacks (crypto.go), parses the decrypted callback XML into typed events
// (event.go), reads the chat-archive JSON lines a customer's archive job writes
// (archive.go), fetches external contacts through the WeCom API (client.go),
// creates 客户群发 tasks, reads their delivery results and posts to group robots
// (massmsg.go), and classifies failures for the caller's retry policy
// (retry.go: ErrRateLimited, IsRetryable).
//
// The package implements the WeCom protocol with the standard library rather
// than wrapping github.com/xen0n/go-workwx v1.7.0, the project's WeCom SDK:
//
//   - Its callback crypto (envelope processor, encryptor, signature) lives in
//     internal/ packages and cannot be imported; the only exported entry point
//     is an http.Handler that hands over a reduced RxMessage, not the XML.
//   - Its decryptor does not validate PKCS#7 padding or the length prefix (a
//     short or forged payload panics with an index out of range) and never
//     compares the ReceiveId with the corp id.
//   - Its API client takes no context, caches the access token until a
//     background refresher goroutine replaces it and does not refresh and retry
//     on errcode 42001/40014.
//
// The tests use go-workwx as an independent implementation: payloads built by
// Crypto.EncryptedXML must be accepted by its callback handler.
package wecom
