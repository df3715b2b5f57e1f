// The official JavaScript client (@kubernetes/client-node 1.x) against `capstan up`: list namespaces,
// list pods, create a Deployment, watch deployments (with bookmarks) and run an informer until a
// merge-patch scale shows up, and POST a core/v1 Event with a microsecond eventTime, then read it back.
// Usage: node client_check.mjs <kubeconfig>. Exits non-zero with a message on the first failure.
import * as k8s from '@kubernetes/client-node';

const kubeconfig = process.argv[2];
if (!kubeconfig) {
  console.error('usage: node client_check.mjs <kubeconfig>');
  process.exit(2);
}

function check(cond, msg) {
  if (!cond) {
    throw new Error(`check failed: ${msg}`);
  }
}

const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const ns = 'default';
const name = `node-check-${process.pid}`;

const namespaces = await core.listNamespace();
const nsNames = namespaces.items.map((n) => n.metadata.name);
check(nsNames.includes('default'), `namespace list has default: ${nsNames}`);

const pods = await core.listNamespacedPod({ namespace: ns });
check(Array.isArray(pods.items), 'pod list has items');
check(typeof pods.metadata?.resourceVersion === 'string', 'pod list has a resourceVersion');

const created = await apps.createNamespacedDeployment({
  namespace: ns,
  body: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'web', image: 'nginx:1.25' }] },
      },
    },
  },
});
check(created.metadata.name === name, 'created deployment has its name');
check(created.metadata.uid, 'created deployment has a uid');

// List then watch from the list's resourceVersion, as informers do.
const list = await apps.listNamespacedDeployment({ namespace: ns });
check(list.items.some((d) => d.metadata.name === name), 'deployment list holds the new deployment');
const watch = new k8s.Watch(kc);
let controller;
const sawScale = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('watch saw no replicas=3 within 20s')), 20000);
  watch
    .watch(
      `/apis/apps/v1/namespaces/${ns}/deployments`,
      { allowWatchBookmarks: true, resourceVersion: list.metadata.resourceVersion },
      (type, obj) => {
        if (type === 'ERROR') {
          clearTimeout(timer);
          reject(new Error(`watch ERROR event: ${JSON.stringify(obj)}`));
        } else if (type !== 'BOOKMARK' && obj?.metadata?.name === name && obj.spec?.replicas === 3) {
          clearTimeout(timer);
          resolve(type);
        }
      },
      (err) => {
        if (err && err.name !== 'AbortError') {
          clearTimeout(timer);
          reject(err);
        }
      },
    )
    .then((c) => {
      controller = c;
    }, reject);
});

// An informer (list, then watch with bookmarks from the list's resourceVersion) keeps a cache.
const informer = k8s.makeInformer(kc, `/apis/apps/v1/namespaces/${ns}/deployments`, () =>
  apps.listNamespacedDeployment({ namespace: ns }),
);
const informerSawScale = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('informer saw no replicas=3 update within 20s')), 20000);
  informer.on('update', (obj) => {
    if (obj.metadata.name === name && obj.spec.replicas === 3) {
      clearTimeout(timer);
      resolve();
    }
  });
  informer.on('error', (err) => {
    if (err?.name !== 'AbortError') {
      clearTimeout(timer);
      reject(err);
    }
  });
});
await informer.start();
check(
  informer.list(ns).some((d) => d.metadata.name === name),
  'the informer cache holds the deployment after start',
);

const patched = await apps.patchNamespacedDeployment(
  { name, namespace: ns, body: { spec: { replicas: 3 } } },
  k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
);
check(patched.spec.replicas === 3, 'merge-patch response has replicas 3');
const eventType = await sawScale;
check(eventType === 'MODIFIED', `watch event for the scale is MODIFIED, got ${eventType}`);
controller?.abort();
await informerSawScale;
check(informer.get(name, ns)?.spec?.replicas === 3, 'the informer cache has replicas 3');
await informer.stop();

// A core/v1 Event with a microsecond eventTime (V1MicroTime renders six fractional digits).
const eventTime = new k8s.V1MicroTime();
const eventName = `${name}.scaled`;
const posted = await core.createNamespacedEvent({
  namespace: ns,
  body: {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: eventName, namespace: ns },
    involvedObject: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name,
      namespace: ns,
      uid: created.metadata.uid,
    },
    reason: 'Scaled',
    message: 'scaled to 3 by client_check.mjs',
    type: 'Normal',
    eventTime,
    action: 'Scale',
    reportingComponent: 'client-check',
    reportingInstance: 'client-check-1',
    source: { component: 'client-check' },
  },
});
check(posted.metadata.name === eventName, 'posted event has its name');
const readBack = await core.readNamespacedEvent({ name: eventName, namespace: ns });
check(readBack.reason === 'Scaled', `event reason round-trips: ${readBack.reason}`);
check(readBack.involvedObject.name === name, 'event involvedObject round-trips');
// The 1.x client leaves a V1MicroTime field as the server's string (it only revives plain Date fields).
const gotTime = readBack.eventTime;
check(gotTime !== undefined && gotTime !== null, 'event has an eventTime');
if (typeof gotTime === 'string') {
  check(/\.\d{6}Z$/.test(gotTime), `eventTime keeps six fractional digits: ${gotTime}`);
}
check(
  new Date(gotTime).getTime() === eventTime.getTime(),
  `eventTime round-trips: sent ${eventTime.toISOString()}, got ${gotTime}`,
);
const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` });
check(events.items.some((e) => e.metadata.name === eventName), 'event list by involvedObject.name finds it');

await apps.deleteNamespacedDeployment({ name, namespace: ns });
console.log('node client check ok');
