//! What the library reports through the `metrics` facade (feature `metrics`; without it these
//! are no-ops): the application's recorder, if any, collects them.

/// Adds `delta` to a gauge.
pub(crate) fn gauge(name: &'static str, delta: f64) {
    #[cfg(feature = "metrics")]
    metrics::gauge!(name).increment(delta);
    #[cfg(not(feature = "metrics"))]
    let _ = (name, delta);
}

/// Sets a gauge.
#[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
pub(crate) fn set_gauge(name: &'static str, value: f64) {
    #[cfg(feature = "metrics")]
    metrics::gauge!(name).set(value);
    #[cfg(not(feature = "metrics"))]
    let _ = (name, value);
}

/// Records a duration in seconds.
pub(crate) fn seconds(name: &'static str, elapsed: std::time::Duration) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(name).record(elapsed.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = (name, elapsed);
}

/// Counts one event.
pub(crate) fn count(name: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(name).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = name;
}
