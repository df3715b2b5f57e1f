//! A complete custom controller, the kind a user copies to start their own.
//!
//! A `Greeting` (`example.com/v1`) says what message to show; its controller keeps one
//! `GreetingCard` child (owned through a controller owner reference) whose text matches the message,
//! records Events, and reports `status.observedGeneration`. The demo runs the controller against the
//! in-memory store, creates a greeting, changes it, deletes its card by hand (the controller heals
//! it), prints what happens, and exits.
//!
//! ```text
//! cargo run --example greeting_controller
//! ```
//!
//! The same controller also runs against `capstan up`, where kubectl drives it and the garbage
//! collector follows the card's owner reference:
//!
//! ```text
//! cargo run -p capstan-cli -- up &                  # writes capstan-data/kubeconfig.yaml
//! export KUBECONFIG=$PWD/capstan-data/kubeconfig.yaml
//! kubectl apply -f examples/greeting-crd.yaml       # the Greeting and GreetingCard kinds
//! cargo run --example greeting_controller -- --kubeconfig $KUBECONFIG &
//! kubectl apply -f examples/greeting.yaml
//! kubectl get greetingcards                          # hello-card, made by the controller
//! kubectl delete greeting hello                      # the card is garbage-collected
//! ```

use std::sync::Arc;
use std::time::Duration;

use capstan_core::{ObjectKey, Resource};
use capstan_runtime::serde::{Deserialize, Serialize};
use capstan_runtime::{
    Action, Context, Controller, Manager, ReconcileError, ReconcileRequest, Reconciler, controller_reference,
    predicate::GenerationChanged,
};
use capstan_store::{Api, ListParams, MemoryStore, Store, StoreError};
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

// In your own crate, depend on `serde` and drop the `#[serde(crate = ...)]` lines.

/// The custom resource: what a user writes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(crate = "capstan_runtime::serde", rename_all = "camelCase")]
struct Greeting {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    spec: GreetingSpec,
    #[serde(default)]
    status: Option<GreetingStatus>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(crate = "capstan_runtime::serde")]
struct GreetingSpec {
    message: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(crate = "capstan_runtime::serde", rename_all = "camelCase")]
struct GreetingStatus {
    observed_generation: Option<i64>,
}

impl Resource for Greeting {
    const GROUP: &'static str = "example.com";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Greeting";
    const PLURAL: &'static str = "greetings";
    const NAMESPACED: bool = true;
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The child the controller makes for each greeting.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(crate = "capstan_runtime::serde", rename_all = "camelCase")]
struct GreetingCard {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    spec: GreetingCardSpec,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(crate = "capstan_runtime::serde")]
struct GreetingCardSpec {
    text: String,
}

impl Resource for GreetingCard {
    const GROUP: &'static str = "example.com";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "GreetingCard";
    const PLURAL: &'static str = "greetingcards";
    const NAMESPACED: bool = true;
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The card a greeting wants: name `<greeting>-card`, text from the message.
fn desired_card(greeting: &Greeting) -> Option<GreetingCard> {
    let name = greeting.metadata.name.as_deref()?;
    Some(GreetingCard {
        api_version: GreetingCard::type_key().api_version(),
        kind: GreetingCard::KIND.into(),
        metadata: ObjectMeta {
            name: Some(format!("{name}-card")),
            namespace: greeting.metadata.namespace.clone(),
            owner_references: Some(vec![controller_reference(greeting)?]),
            ..ObjectMeta::default()
        },
        spec: GreetingCardSpec {
            text: format!("{}, says {name}", greeting.spec.message),
        },
    })
}

/// Level-based: whatever woke it, make the card match the greeting.
struct GreetingReconciler;

#[capstan_runtime::async_trait]
impl Reconciler<Greeting> for GreetingReconciler {
    async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<Greeting>) -> Result<Action, ReconcileError> {
        let Some(greeting) = ctx.cache().get(&req.key) else {
            println!("[controller] greeting {req} is gone; the garbage collector removes its card (owner reference)");
            ctx.expectations().forget(&req.key);
            return Ok(Action::done());
        };
        if !ctx.expectations().satisfied(&req.key) {
            // A card we created is not in the cache yet; its arrival wakes us again.
            return Ok(Action::done());
        }
        let Some(want) = desired_card(&greeting) else {
            return Err(ReconcileError::terminal("greeting has no name or uid"));
        };
        let card_key = want.object_key();
        let cards = ctx.api::<GreetingCard>(&card_key.namespace);
        match ctx.cache_of::<GreetingCard>()?.get(&card_key) {
            None => {
                ctx.expectations().expect_creations(&req.key, 1);
                match cards.create(&want).await {
                    Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
                    Err(e) => {
                        ctx.expectations().creation_observed(&req.key);
                        return Err(e.into());
                    }
                }
                println!("[controller] {req}: created card {card_key} with {:?}", want.spec.text);
                let message = format!("Created card {}", card_key.name);
                ctx.recorder().normal(&*greeting, "CreatedCard", &message).await;
            }
            Some(card) if card.spec != want.spec => {
                let mut updated = (*card).clone();
                updated.spec = want.spec.clone();
                cards.replace(&updated).await?;
                println!("[controller] {req}: updated card {card_key} to {:?}", want.spec.text);
                let message = format!("Updated card {}", card_key.name);
                ctx.recorder().normal(&*greeting, "UpdatedCard", &message).await;
            }
            Some(_) => {}
        }
        let generation = greeting.metadata.generation;
        if greeting.status.as_ref().and_then(|s| s.observed_generation) != generation {
            ctx.api::<Greeting>(&req.key.namespace)
                .patch_status(
                    &req.key.name,
                    &serde_json::json!({"status": {"observedGeneration": generation}}),
                )
                .await?;
            println!("[controller] {req}: status.observedGeneration = {generation:?}");
        }
        Ok(Action::done())
    }
}

/// Polls the store (every 20 ms, for up to 5 s) until `check` holds.
async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) -> anyhow::Result<()> {
    for _ in 0..250 {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("timed out waiting for {what}")
}

async fn card_text(cards: &Api<GreetingCard>, name: &str) -> Option<String> {
    cards.get_opt(name).await.ok().flatten().map(|c| c.spec.text.clone())
}

/// The controller as a program against an API server (`--kubeconfig FILE`), until Ctrl-C.
async fn run_against(kubeconfig: &str) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = Arc::new(capstan_store::remote::RemoteStore::from_kubeconfig(kubeconfig)?);
    let crds = Api::<CustomResourceDefinition>::all(store.clone());
    for name in ["greetings.example.com", "greetingcards.example.com"] {
        if crds.get_opt(name).await?.is_none() {
            anyhow::bail!(
                "the server has no CustomResourceDefinition {name}: kubectl apply -f examples/greeting-crd.yaml"
            );
        }
    }
    let mgr = Manager::new(store);
    mgr.add(
        Controller::<Greeting>::new()
            .owns::<GreetingCard>()
            .with_predicate(GenerationChanged)
            .concurrency(2)
            .reconcile(GreetingReconciler),
    );
    println!("[controller] running against {kubeconfig}; try: kubectl apply -f examples/greeting.yaml (Ctrl-C stops)");
    mgr.run(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    println!("[controller] stopped");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--kubeconfig") {
        let Some(path) = args.get(i + 1) else {
            anyhow::bail!("--kubeconfig needs a file (e.g. capstan-data/kubeconfig.yaml)");
        };
        return run_against(path).await;
    }
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mgr = Manager::new(store.clone());
    mgr.add(
        Controller::<Greeting>::new()
            .owns::<GreetingCard>()
            .with_predicate(GenerationChanged)
            .concurrency(2)
            .reconcile(GreetingReconciler),
    );
    let metrics = mgr.metrics();
    let health = mgr.health();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let manager = tokio::spawn(mgr.run(async move {
        let _ = stopped.await;
    }));

    let greetings: Api<Greeting> = Api::namespaced(store.clone(), "default");
    let cards: Api<GreetingCard> = Api::namespaced(store.clone(), "default");

    println!("[user] create greeting default/hello: \"Hello, world\"");
    let hello = Greeting {
        api_version: Greeting::type_key().api_version(),
        kind: Greeting::KIND.into(),
        metadata: ObjectMeta {
            name: Some("hello".into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        spec: GreetingSpec {
            message: "Hello, world".into(),
        },
        status: None,
    };
    greetings.create(&hello).await?;
    wait_for("the card", async || card_text(&cards, "hello-card").await.is_some()).await?;
    println!("[user] ready: {}", health.is_ready());

    println!("[user] change the message to \"Good morning\"");
    greetings
        .patch("hello", &serde_json::json!({"spec": {"message": "Good morning"}}))
        .await?;
    wait_for("the new text", async || {
        card_text(&cards, "hello-card")
            .await
            .is_some_and(|t| t.starts_with("Good morning"))
    })
    .await?;

    println!("[user] delete the card by hand");
    cards.delete("hello-card", &Default::default()).await?;
    wait_for("the card to come back", async || {
        card_text(&cards, "hello-card").await.is_some()
    })
    .await?;
    println!("[user] card is back: {:?}", card_text(&cards, "hello-card").await);

    let status = greetings.get("hello").await?.status.clone();
    println!("[user] greeting status: {status:?}");

    println!("[user] events (as kubectl describe shows them):");
    let events = Api::<Event>::namespaced(store.clone(), "default")
        .list(&ListParams::default())
        .await?;
    for e in &events.items {
        println!(
            "    {:<8} {:<12} {:>2}x  {}",
            e.type_.as_deref().unwrap_or_default(),
            e.reason.as_deref().unwrap_or_default(),
            e.count.unwrap_or(1),
            e.message.as_deref().unwrap_or_default()
        );
    }

    println!("[user] metrics excerpt:");
    for line in metrics
        .render()
        .lines()
        .filter(|l| l.starts_with("controller_runtime_reconcile_total") || l.starts_with("workqueue_adds_total"))
    {
        println!("    {line}");
    }

    let _ = stop.send(());
    manager.await??;
    let key = ObjectKey::new("default", "hello");
    println!("[user] manager stopped cleanly; {key} converged");
    Ok(())
}
