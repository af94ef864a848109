// Package smtpfake is a scripted SMTP receiver for system tests: real
// Postfix and Exim deliver to it over loopback, it answers as a
// Proofpoint-protected receiver would (blocks, deferrals, a refused
// greeting), and it keeps a tally of what it answered, so that a test can
// compare what ppwatch counted in the MTA's log with what was really said.
//
// It speaks just enough ESMTP for those clients: EHLO with PIPELINING, no
// STARTTLS and no AUTH, because the tests look at replies, not at
// transport security.
//
// Rules are tried in order and the first that matches answers. A rule's
// Times lets it answer only the first N times for a (client, recipient)
// pair, which is how a receiver that defers twice and then accepts is
// scripted. A rule at Data answers once for the whole transaction: with no
// Rcpt glob it matches any transaction, with a glob it matches when any
// accepted recipient matches, and its answer counts once for each accepted
// recipient, because that is how the MTA logs it.
//
// Only rule answers are tallied; protocol errors (502, 503 and the like)
// are the fake's, not a receiver's verdict, and ppwatch has nothing to
// count for them.
package smtpfake
