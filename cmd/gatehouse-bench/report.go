package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// ratios compares the gateway with its baselines measured in the same run:
// the bare reverse proxy (the ceiling of any proxy on this machine) and the
// upstream called directly.
func ratios(rs []*result) map[string]float64 {
	by := map[string]*result{}
	for _, r := range rs {
		by[r.Scenario] = r
	}
	out := map[string]float64{}
	for one, spread := range spreadOf {
		if a, s := by[one], by[spread]; a != nil && s != nil && a.RPS > 0 {
			out[spread+"_vs_one_tenant_rps"] = round(s.RPS / a.RPS)
		}
	}
	gw := by["gateway"]
	if gw == nil || gw.RPS == 0 {
		return out
	}
	if bp := by["gateway-bare-proxy"]; bp != nil && bp.RPS > 0 {
		out["gateway_vs_bare_proxy_rps"] = round(gw.RPS / bp.RPS)
		out["gateway_added_p50_ms_vs_bare_proxy"] = round(gw.P50 - bp.P50)
		out["gateway_added_p99_ms_vs_bare_proxy"] = round(gw.P99 - bp.P99)
	}
	if d := by["gateway-direct"]; d != nil && d.RPS > 0 {
		out["gateway_vs_direct_rps"] = round(gw.RPS / d.RPS)
		out["gateway_added_p50_ms_vs_direct"] = round(gw.P50 - d.P50)
		out["gateway_added_p99_ms_vs_direct"] = round(gw.P99 - d.P99)
	}
	return out
}

func round(f float64) float64 { return float64(int64(f*1000+0.5*sign(f))) / 1000 }

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}

func writeJSON(w io.Writer, rep *report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func writeTable(w io.Writer, rep *report) {
	m := rep.Machine
	fmt.Fprintf(w, "machine: %d CPUs %s, %s, %s, load %s\n", m.CPUs, m.ModelName, m.OS, m.Go, m.Load)
	fmt.Fprintf(w, "target: %s  concurrency %d  duration %s  upstream delay %s  %s\n\n", rep.Config.URL, rep.Config.Concurrency, rep.Config.Duration, rep.Config.UpstreamDelay, loadNote(rep))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tconc\trequests\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\t")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\n", r.Scenario, r.Concurrency, r.Requests, r.RPS, r.P50, r.P90, r.P99, r.Max, r.Errors)
	}
	tw.Flush()
	for _, r := range rep.Results {
		if r.Scenario == "gateway-stream" {
			fmt.Fprintf(w, "\ngateway-stream: %d streams open; server memory per stream: RSS %s, heap+stacks %s; goroutines per stream %.1f",
				r.Streams, kb(r.RSSBytesPerStream), kb(r.HeapBytesPerStream), r.GoroutinesPerStream)
			if r.Note != "" {
				fmt.Fprintf(w, " (%s)", r.Note)
			}
			fmt.Fprintln(w)
		}
	}
	writeRatios(w, rep, "%-44s %.3f\n")
	writeErrors(w, rep)
}

// ratioOrder is the order ratios are printed in.
var ratioOrder = []string{"gateway_vs_bare_proxy_rps", "gateway_added_p50_ms_vs_bare_proxy", "gateway_added_p99_ms_vs_bare_proxy",
	"gateway_vs_direct_rps", "gateway_added_p50_ms_vs_direct", "gateway_added_p99_ms_vs_direct",
	"metadata-spread_vs_one_tenant_rps", "token-refresh-spread_vs_one_tenant_rps", "gateway-spread_vs_one_tenant_rps"}

func writeRatios(w io.Writer, rep *report, format string) {
	if len(rep.Ratios) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, k := range ratioOrder {
		if v, ok := rep.Ratios[k]; ok {
			fmt.Fprintf(w, format, k, v)
		}
	}
}

func writeErrors(w io.Writer, rep *report) {
	var errs []string
	for _, r := range rep.Results {
		for _, s := range r.ErrorSamples {
			errs = append(errs, r.Scenario+": "+s)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(w, "\nerrors (first of each scenario):\n  "+strings.Join(errs, "\n  "))
	}
}

// writeMarkdown is writeTable as Markdown (docs/PERFORMANCE.md's tables).
func writeMarkdown(w io.Writer, rep *report) {
	m := rep.Machine
	fmt.Fprintf(w, "Machine: %d CPUs %s, %s, %s, load %s; concurrency %d, %s per scenario, upstream delay %s; %s.\n\n",
		m.CPUs, m.ModelName, m.OS, m.Go, m.Load, rep.Config.Concurrency, rep.Config.Duration, rep.Config.UpstreamDelay, loadNote(rep))
	fmt.Fprintln(w, "| scenario | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "| `%s` | %.0f | %.2f | %.2f | %.2f | %.1f | %d |\n", r.Scenario, r.RPS, r.P50, r.P90, r.P99, r.Max, r.Errors)
	}
	for _, r := range rep.Results {
		if r.Scenario == "gateway-stream" {
			fmt.Fprintf(w, "\n`gateway-stream`: %d streams; per stream RSS %s, heap+stacks %s, %.1f goroutines\n",
				r.Streams, kb(r.RSSBytesPerStream), kb(r.HeapBytesPerStream), r.GoroutinesPerStream)
		}
	}
	writeRatios(w, rep, "- %s: **%.3f**\n")
	writeErrors(w, rep)
}

// loadNote names the load generator of each scenario.
func loadNote(rep *report) string {
	var wrk, other []string
	for _, r := range rep.Results {
		if r.Load == "wrk" {
			wrk = append(wrk, r.Scenario)
		} else {
			other = append(other, r.Scenario)
		}
	}
	if len(wrk) == 0 {
		return "load from the Go generator"
	}
	note := "load from wrk for " + strings.Join(wrk, ", ")
	if len(other) > 0 {
		note += "; the Go generator for " + strings.Join(other, ", ")
	}
	return note
}

func kb(b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f KB", b/1024)
}
