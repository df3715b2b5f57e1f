"""A small kopf operator used by tests/kopf_operator.rs against `capstan up`.

It reacts to labelled ConfigMaps (annotates them and posts an Event) and to changes of a
Deployment's spec.replicas (logs them), which exercises what operator frameworks need from the
API server: discovery, list then watch with bookmarks, merge patches and core/v1 Events.
"""
import kopf


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    # Keep kopf's own bookkeeping in annotations (no peering or status CRDs needed).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage()
    settings.posting.level = 0


@kopf.on.create('v1', 'configmaps', labels={'capstan-test': 'yes'})
def configmap_created(body, name, patch, logger, **_):
    patch.setdefault('metadata', {}).setdefault('annotations', {})['kopf-saw'] = 'yes'
    kopf.info(body, reason='Seen', message=f'kopf saw {name}')
    logger.info(f'configmap {name} seen')


@kopf.on.field('apps', 'v1', 'deployments', field='spec.replicas')
def replicas_changed(old, new, name, logger, **_):
    logger.info(f'deployment {name} replicas {old} -> {new}')


@kopf.on.create('example.com', 'v1', 'greetings')
def greeting_created(spec, name, logger, **_):
    logger.info(f'greeting {name} says {spec.get("message")}')
    # Returned values land in the object's status (its status subresource here).
    return {'reply': f'hello back, {name}'}
