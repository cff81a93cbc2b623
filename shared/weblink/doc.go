// Package weblink is the shared links of Porthole's sessions: either side
// offers a web address to the other, whose person decides what happens to
// it before anything is opened.
//
// A link is offered with a LinkOffer on the control stream, and the
// receiver answers with a LinkAnswer. The receiver checks the link first
// (Check): only absolute http and https URLs with a host name are taken;
// anything else (javascript:, file:, data:, a user name or password in the
// URL, spaces, control or invisible formatting characters) is answered
// "bad_link: <why>" without asking anybody. Then, in this order:
//
//   - receiving off (the app's "Receive files and links" switch): refused,
//     "reception_off";
//   - the sender's links remembered as Never: refused, "never";
//   - the sender's links remembered as Always: opened at once;
//   - otherwise the person is asked (an EventOffer) and answers with
//     Service.Answer: Open, NotNow, Always (open this one and every later
//     one from the sender) or Never.
//
// "Opened" means handed to the system's browser through Config.Open; where
// there is none, or it fails, the link is shown to copy (Link.Shown) and
// still counts as opened for the sender. The person reads the whole URL
// before deciding, with an international host also in punycode, and a
// warning when a host label mixes writing systems (Address).
//
// Links are stored in the app database (bucket "links", by id; remembered
// decisions in "linktrust", by sender), so an unanswered offer survives a
// restart of either side: the sender offers it again on every new link
// until it is answered, and a receiver that answered already says its
// answer again.
package weblink
