//! End-to-end latency: from when a record entered the system to the commit that made it
//! visible, kept as a log-linear histogram so that millions of samples cost a few KiB and a
//! percentile is exact to about 1.5%.

/// Values below this are counted exactly (one bucket per microsecond).
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above `LINEAR`: 64 gives a relative error under 1/64.
const SUB_BITS: u32 = 6;
const BUCKETS: usize = LINEAR as usize + (64 - 7) * (1 << SUB_BITS);

#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

impl LatencyHistogram {
    /// Counts `n` samples of `micros` (negative values, from clocks that disagree, count as 0).
    pub fn record_n(&mut self, micros: i64, n: u64) {
        let value = micros.max(0) as u64;
        self.counts[bucket(value)] += n;
        self.total += n;
        self.max = self.max.max(value);
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value at quantile `q` (0..=1) in microseconds: the upper edge of its bucket, so
    /// the figure errs on the slow side. `None` without samples.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(upper_edge(index).min(self.max));
            }
        }
        Some(self.max)
    }

    pub fn summary(&self) -> LatencySummary {
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            samples: self.total,
            p50_ms: self.quantile(0.5).map(ms),
            p99_ms: self.quantile(0.99).map(ms),
            max_ms: (self.total > 0).then(|| ms(self.max)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencySummary {
    pub samples: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

fn bucket(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros(); // >= 7
    let sub = (value >> (exponent - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    LINEAR as usize + ((exponent - 7) as usize) * (1 << SUB_BITS) + sub as usize
}

fn upper_edge(index: usize) -> u64 {
    if index < LINEAR as usize {
        return index as u64;
    }
    let above = index - LINEAR as usize;
    let exponent = (above >> SUB_BITS) as u32 + 7;
    let sub = (above & ((1 << SUB_BITS) - 1)) as u64;
    let width = 1u64 << (exponent - SUB_BITS);
    ((1 << SUB_BITS) + sub) * width + (width - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_bucket_precision() {
        let mut histogram = LatencyHistogram::default();
        for micros in 1..=100_000 {
            histogram.record_n(micros, 1);
        }
        let p50 = histogram.quantile(0.5).unwrap() as f64;
        let p99 = histogram.quantile(0.99).unwrap() as f64;
        assert!((p50 / 50_000.0 - 1.0).abs() < 0.02, "p50 {p50}");
        assert!((p99 / 99_000.0 - 1.0).abs() < 0.02, "p99 {p99}");
        assert_eq!(histogram.quantile(1.0), Some(100_000));
        assert_eq!(histogram.count(), 100_000);
    }

    #[test]
    fn small_values_are_exact_and_weights_count() {
        let mut histogram = LatencyHistogram::default();
        histogram.record_n(5, 98);
        histogram.record_n(7_000_000, 2);
        assert_eq!(histogram.quantile(0.5), Some(5));
        assert_eq!(histogram.quantile(0.98), Some(5));
        let p99 = histogram.quantile(0.99).unwrap();
        assert!((6_900_000..=7_000_000).contains(&p99), "p99 {p99}");
    }

    #[test]
    fn merging_adds_counts_and_an_empty_histogram_has_no_quantiles() {
        let mut a = LatencyHistogram::default();
        assert_eq!(a.quantile(0.5), None);
        assert_eq!(a.summary().p50_ms, None);
        let mut b = LatencyHistogram::default();
        b.record_n(-3, 1); // a producer clock ahead of ours
        b.record_n(2_000, 3);
        a.merge(&b);
        assert_eq!(a.count(), 4);
        assert_eq!(a.quantile(0.0), Some(0));
        let summary = a.summary();
        assert_eq!(summary.max_ms, Some(2.0));
    }

    #[test]
    fn every_value_maps_to_a_bucket_whose_edge_is_not_below_it() {
        for value in [
            0,
            1,
            127,
            128,
            129,
            1_000,
            65_535,
            1 << 40,
            u64::MAX / 2,
            u64::MAX,
        ] {
            let index = bucket(value);
            assert!(index < BUCKETS);
            assert!(upper_edge(index) >= value, "{value}");
        }
    }
}
