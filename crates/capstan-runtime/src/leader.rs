//! Leader election over a `coordination.k8s.io/v1` Lease in the store: several managers, one active.
//!
//! # Expected flow
//!
//! 1. Every candidate tries, every `retry_period`, to take the Lease: create it if absent, or write
//!    itself as `holderIdentity` (compare-and-swap on `resourceVersion`) when the holder is empty or
//!    its lease has expired.
//! 2. A lease has expired when the record has not changed for `leaseDurationSeconds`, measured on
//!    the candidate's own clock from when it first saw that record (never from the holder's
//!    `renewTime`, so clocks of different machines need not agree).
//! 3. The leader renews every `retry_period` by writing `renewTime`. If it cannot renew for
//!    `renew_deadline`, it steps down: the manager stops its controllers (within half the gap between
//!    the renew deadline and the lease duration) and returns [`Error::LeadershipLost`].
//! 4. On a clean shutdown the leader releases the lease (empty holder), so another candidate can take
//!    over at once instead of after the lease duration.
//!
//! # Guarantees
//!
//! With `renew_deadline < lease_duration`, a leader that cannot renew has stopped its controllers
//! before any other candidate can consider its lease expired. Defaults follow Kubernetes:
//! lease 15 s, renew deadline 10 s, retry period 2 s.

use std::sync::Arc;
use std::time::Duration;

use capstan_core::{ObjectKey, Resource};
use capstan_store::{Store, StoreError, Subresource, clock};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use tokio::time::Instant;

use crate::error::{Error, Result};

/// How a manager takes part in leader election.
#[derive(Clone, Debug)]
pub struct LeaderElectionConfig {
    /// The Lease's name.
    pub lease_name: String,
    /// The Lease's namespace (default `default`).
    pub namespace: String,
    /// This candidate's identity, unique among candidates (e.g. host name plus a random suffix).
    pub identity: String,
    /// How long a lease is valid without renewal (default 15 s).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it steps down (default 10 s).
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews (default 2 s).
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// Kubernetes defaults for lease `lease_name`, candidate `identity`.
    pub fn new(lease_name: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            lease_name: lease_name.into(),
            namespace: "default".to_owned(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// Sets the Lease's namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets lease duration, renew deadline and retry period (keep
    /// `retry_period < renew_deadline < lease_duration`).
    pub fn timings(mut self, lease_duration: Duration, renew_deadline: Duration, retry_period: Duration) -> Self {
        self.lease_duration = lease_duration;
        self.renew_deadline = renew_deadline;
        self.retry_period = retry_period;
        self
    }

    /// How long a leader that lost its lease may take to stop its controllers.
    pub(crate) fn step_down_bound(&self) -> Duration {
        self.lease_duration.saturating_sub(self.renew_deadline) / 2
    }
}

/// The state of one candidate.
pub(crate) struct LeaderElector {
    config: LeaderElectionConfig,
    store: Arc<dyn Store>,
    /// The last record seen (resourceVersion) and when this candidate first saw it.
    observed: Option<(String, Instant)>,
    /// When this candidate last renewed successfully.
    last_renew: Option<Instant>,
}

impl LeaderElector {
    pub(crate) fn new(config: LeaderElectionConfig, store: Arc<dyn Store>) -> Self {
        Self {
            config,
            store,
            observed: None,
            last_renew: None,
        }
    }

    pub(crate) fn config(&self) -> &LeaderElectionConfig {
        &self.config
    }

    fn key(&self) -> ObjectKey {
        ObjectKey::new(&self.config.namespace, &self.config.lease_name)
    }

    /// One attempt to acquire or renew; `Ok(true)` when this candidate holds the lease now.
    async fn try_acquire_or_renew(&mut self) -> Result<bool> {
        let type_key = Lease::type_key();
        let now = crate::clock::now();
        let stored = match self.store.get(&type_key, &self.key()).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound { .. }) => {
                let lease = self.lease(None, None);
                let json = serde_json::to_value(&lease).map_err(|e| StoreError::BadRequest(e.to_string()))?;
                return match self.store.create(&type_key, json).await {
                    Ok(_) => Ok(true),
                    Err(StoreError::AlreadyExists { .. }) => Ok(false),
                    Err(e) => Err(e.into()),
                };
            }
            Err(e) => return Err(e.into()),
        };
        let current = stored.typed::<Lease>()?;
        let rv = current.metadata.resource_version.clone().unwrap_or_default();
        let first_seen = match &self.observed {
            Some((seen_rv, at)) if *seen_rv == rv => *at,
            _ => {
                self.observed = Some((rv.clone(), now));
                now
            }
        };
        let spec = current.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.lease_duration, Duration::from_secs);
        if !holder.is_empty() && holder != self.config.identity && now < first_seen + duration {
            return Ok(false);
        }
        let lease = self.lease(Some(&current), Some(&spec));
        let json = serde_json::to_value(&lease).map_err(|e| StoreError::BadRequest(e.to_string()))?;
        match self.store.update(&type_key, json, Subresource::Main).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The Lease this candidate writes to take or renew it.
    fn lease(&self, current: Option<&Lease>, spec: Option<&LeaseSpec>) -> Lease {
        let now = MicroTime(clock::now());
        let was_mine = spec.and_then(|s| s.holder_identity.as_deref()) == Some(self.config.identity.as_str());
        let transitions = spec.and_then(|s| s.lease_transitions).unwrap_or(0);
        Lease {
            metadata: match current {
                Some(c) => c.metadata.clone(),
                None => ObjectMeta {
                    name: Some(self.config.lease_name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                lease_duration_seconds: Some(i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX)),
                acquire_time: if was_mine {
                    spec.and_then(|s| s.acquire_time.clone())
                } else {
                    Some(now.clone())
                },
                renew_time: Some(now),
                lease_transitions: Some(if was_mine || current.is_none() {
                    transitions
                } else {
                    transitions + 1
                }),
                ..LeaseSpec::default()
            }),
        }
    }

    /// Tries every retry period until this candidate holds the lease.
    pub(crate) async fn acquire(&mut self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    self.last_renew = Some(crate::clock::now());
                    tracing::info!(lease = %self.key(), identity = %self.config.identity, "acquired leadership");
                    return;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(lease = %self.key(), error = %e, "leader election attempt failed"),
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Renews every retry period; returns when a renewal has not succeeded for the renew deadline.
    pub(crate) async fn hold(&mut self) -> Error {
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            let deadline = self.last_renew.unwrap_or_else(crate::clock::now) + self.config.renew_deadline;
            match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                Ok(Ok(true)) => {
                    self.last_renew = Some(crate::clock::now());
                    continue;
                }
                Ok(Ok(false)) => tracing::warn!(lease = %self.key(), "lease renewal refused"),
                Ok(Err(e)) => tracing::warn!(lease = %self.key(), error = %e, "lease renewal failed"),
                Err(_) => tracing::warn!(lease = %self.key(), "lease renewal timed out"),
            }
            if crate::clock::now() >= deadline {
                tracing::error!(lease = %self.key(), identity = %self.config.identity, "could not renew lease; stepping down");
                return Error::LeadershipLost(self.key().to_string());
            }
        }
    }

    /// Gives the lease up (empty holder) so another candidate can take it at once.
    pub(crate) async fn release(&mut self) {
        let type_key = Lease::type_key();
        let Ok(stored) = self.store.get(&type_key, &self.key()).await else {
            return;
        };
        let Ok(current) = stored.typed::<Lease>() else { return };
        let mut lease = (*current).clone();
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(clock::now()));
        match serde_json::to_value(&lease) {
            Ok(json) => match self.store.update(&type_key, json, Subresource::Main).await {
                Ok(_) => tracing::info!(lease = %self.key(), "released leadership"),
                Err(e) => tracing::warn!(lease = %self.key(), error = %e, "could not release lease"),
            },
            Err(e) => tracing::warn!(error = %e, "could not encode lease"),
        }
    }
}
