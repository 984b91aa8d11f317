# SPDX-License-Identifier: Apache-2.0
"""The figures of a run of the HA tests (test_patroni.py), as the README's table; standard
library only, so that tests/ha/summary runs on any python3."""


def summary_text(s):
    """The figures of a run of test_patroni.py's fault test, as the README's table."""
    def spread(values):
        if not values:
            return "-"
        ordered = sorted(values)
        median = ordered[len(ordered) // 2] if len(ordered) % 2 else (ordered[len(ordered) // 2 - 1] +
                                                                      ordered[len(ordered) // 2]) / 2
        return f"{median:.2f} / {ordered[-1]:.2f}"

    lines = ["| fault | new leader after (s) | numbers acknowledged meanwhile | serving again, multi-host URL "
             "(median / max, s) | serving again, HAProxy (median / max, s) |", "|---|---|---|---|---|"]
    for f in s["faults"]:
        lines.append(f"| {f['fault']} ({f['old']} to {f['new']}) | {f['leader_after_s']:.2f} | "
                     f"{f['acknowledged_during']:,} | {spread(f['recovery']['multi-host'])} | "
                     f"{spread(f['recovery']['haproxy'])} |")
    lines.append("")
    lines.append(f"numbers acknowledged: {s['numbers']:,} in {s['answers']:,} answers (HTTP "
                 f"{s['numbers_by_transport']['http']:,}, socket {s['numbers_by_transport']['socket']:,}), and "
                 f"{s['probe_numbers']:,} probes; duplicates: {s['duplicates']}")
    lines.append("answered unavailable: " + ", ".join(f"{k} {v:,}" for k, v in s["unavailable"].items()))
    lines.append(f"longest request: {s['longest_request_s']:.2f} s (bound {s['bound_s']:g} s); Patroni ttl "
                 f"{s['timing']['ttl']} s, loop_wait {s['timing']['loop_wait']} s, retry_timeout "
                 f"{s['timing']['retry_timeout']} s")
    heals = s.get("heals", [])
    lines.append("members healed by the test: " + (", ".join(f"{h['node']} ({h['action']})" for h in heals)
                                                     if heals else "none"))
    return "\n".join(lines)
