"use strict";
/** Reading the gateway's governance /metrics endpoint (Prometheus text). */
const { httpJson } = require("./http");
const { pollUntil } = require("./util");

/** The value of an unlabelled metric (NaN when absent); throws when the endpoint fails. */
async function scrapeMetric(govPort, name, timeoutMs = 5000) {
  const r = await httpJson("GET", `http://127.0.0.1:${govPort}/metrics`, {
    timeoutMs,
  });
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(r.text);
  return m ? Number(m[1]) : NaN;
}

/** Polls the metric until it equals `want` (or `timeoutMs` passed); failures read as NaN. */
function waitMetric(govPort, name, want, timeoutMs, pollMs = 200) {
  const read = () => scrapeMetric(govPort, name, 2000).catch(() => NaN);
  return pollUntil(read, want, timeoutMs, pollMs);
}

module.exports = { scrapeMetric, waitMetric };
