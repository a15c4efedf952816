package main

import "github.com/granarycdp/cdp/store"

func main() {
	store.RunEngineChildIfRequested()
}
