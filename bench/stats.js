"use strict";
/** Nearest-rank percentile of a sorted array (NaN when empty); shared by the bench processes. */
const pct = (sorted, q) =>
  sorted.length
    ? sorted[
        Math.min(
          sorted.length - 1,
          Math.max(0, Math.ceil(q * sorted.length) - 1),
        )
      ]
    : NaN;

module.exports = { pct };
