package app

import (
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/hygiene"
)

// resolvConf names the resolvers of the sender checks and the MX lookups
// when dns.servers names none; "" is dnscheck's default
// ($PPWATCH_RESOLV_CONF, else /etc/resolv.conf). The tests point it at a
// file that does not exist, so that no test asks a real resolver.
var resolvConf = ""

// newChecks makes the sender checks' runner on the store, restoring their
// history; they begin with Start.
func (a *App) newChecks(cfg *config.Config) (*hygiene.Runner, error) {
	return hygiene.New(hygiene.Options{Logger: a.log, Store: a.store, Registerer: a.reg, Now: a.now,
		SourceIPs: a.sourceAttempts, SenderDomains: a.msgs.SenderDomains, ResolvConf: resolvConf}, cfg)
}

// sourceAttempts are the attempts of each source IP so far, from the
// aggregate (ppwatch_attempts_total): the checks take the busiest IPs.
func (a *App) sourceAttempts() map[string]uint64 {
	out := map[string]uint64{}
	for _, at := range a.agg.Load().Snapshot(a.now()).Attempts {
		out[at.SourceIP] += at.N
	}
	return out
}
