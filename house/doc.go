// Package house holds no code: its tests check the rules of the house that
// no compiler checks, over the whole source tree (see house_test.go):
//   - no function over 80 lines and no non-test Go file over 600 lines;
//   - the domain's SQL rules and the Beijing time zone are written once,
//     in schema/domain.go, and nowhere else;
//   - every relative link in the README and docs/ leads to a file that
//     exists.
package house
