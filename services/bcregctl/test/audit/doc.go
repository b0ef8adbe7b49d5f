// Package audit_test holds the tests of bcregctl audit's OrgBook readers
// that need a real PostgreSQL and vonx-sim's OrgBook view.
package audit_test
