/** Small statistics for the bench: nearest-rank percentiles over plain arrays of numbers. */

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function median(values) {
  return percentile(values, 50);
}

export function mean(values) {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** median, p99 (and a few more) of latencies in ms. */
export function summarize(values) {
  return {
    n: values.length,
    median: round(median(values), 4),
    p90: round(percentile(values, 90), 4),
    p99: round(percentile(values, 99), 4),
    min: round(Math.min(...values), 4),
    mean: round(mean(values), 4),
  };
}

export function round(value, digits = 3) {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function ratio(a, b, digits = 3) {
  return round(a / b, digits);
}
