//! The simulated node agent (a kwok-like fake kubelet): binds pods to fake nodes, walks them through
//! Pending → Running → Ready on a clock, crashes or stalls them on request (annotations in
//! [`behaviour`]), and removes deleted pods after their grace (I.59–I.63, J.65–J.66).

pub mod behaviour;
pub mod logic;
pub mod nodes;
pub mod reconciler;

pub use behaviour::{
    Behaviour, CRASH_AFTER_ANNOTATION, FAIL_READINESS_AFTER_ANNOTATION, NEVER_READY_ANNOTATION, START_DELAY_ANNOTATION,
    parse_duration,
};
pub use logic::{AgentEvent, PodStep, backoff, step};
pub use nodes::{AgentConfig, ClusterView, node_objects};
pub use reconciler::{NodeAgentReconciler, create_nodes};
