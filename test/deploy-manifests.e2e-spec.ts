/**
 * deploy/k8s and the Dockerfile, checked for structure and for agreement with the service: probes on the
 * health routes, resources, the ConfigMap and Secret holding only variables the service reads (and a
 * configuration it accepts), grace period longer than the drain, a non-root image that runs the build output.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { loadConfig } from '@app/core';

const ROOT = path.resolve(__dirname, '..');
const K8S = path.join(ROOT, 'deploy/k8s');

type Doc = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: any };

const docs: Doc[] = readdirSync(K8S)
  .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
  .flatMap((f) => yaml.loadAll(readFileSync(path.join(K8S, f), 'utf8')) as Doc[])
  .filter(Boolean);
const one = (kind: string) => {
  const found = docs.filter((d) => d.kind === kind);
  expect(found).toHaveLength(1);
  return found[0];
};

/** The variables the service reads: the fields of EnvironmentVariables (as the README test finds them). */
const knownVariables = (() => {
  const source = readFileSync(path.join(ROOT, 'libs/core/src/config/environment-variables.ts'), 'utf8');
  const body = source.slice(source.indexOf('export class EnvironmentVariables'));
  return new Set([...body.matchAll(/^\s+([A-Z][A-Z0-9_]+)[?:! =]/gm)].map((m) => m[1]));
})();

describe('deploy/k8s manifests', () => {
  it('parse, and every object has apiVersion, kind and a name', () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Service']);
    for (const d of docs) {
      expect(d.apiVersion).toEqual(expect.any(String));
      expect(d.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('are all listed in the kustomization', () => {
    const k = yaml.load(readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    const files = readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
    expect([...k.resources].sort()).toEqual(files.sort());
  });

  it('probe liveness and start-up on /health/live and readiness on /health/ready, on a declared port', () => {
    const dep = one('Deployment');
    expect(dep.apiVersion).toBe('apps/v1');
    const [c] = dep.spec.template.spec.containers;
    const portNames = c.ports.map((p: any) => p.name);
    expect(c.livenessProbe.httpGet.path).toBe('/health/live');
    expect(c.startupProbe.httpGet.path).toBe('/health/live');
    expect(c.readinessProbe.httpGet.path).toBe('/health/ready');
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      expect(portNames).toContain(probe.httpGet.port);
      expect(probe.timeoutSeconds).toBeGreaterThanOrEqual(1);
      expect(probe.periodSeconds).toBeGreaterThanOrEqual(1);
    }
    // Start-up (migrations) gets longer than liveness would allow.
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThan(
      c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold,
    );
  });

  it('request resources and cap memory', () => {
    const [c] = one('Deployment').spec.template.spec.containers;
    expect(c.resources.requests.cpu).toEqual(expect.any(String));
    expect(c.resources.requests.memory).toMatch(/^\d+(Mi|Gi)$/);
    expect(c.resources.limits.memory).toMatch(/^\d+(Mi|Gi)$/);
  });

  it('run as the non-root user of the image, without privilege escalation', () => {
    const spec = one('Deployment').spec.template.spec;
    const dockerUser = /^USER\s+(\d+)/m.exec(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))![1];
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(String(spec.securityContext.runAsUser)).toBe(dockerUser);
    expect(spec.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
  });

  it('select the pods with the Service, on the container port, and protect them with the budget', () => {
    const dep = one('Deployment');
    const podLabels = dep.spec.template.metadata.labels;
    expect(podLabels).toMatchObject(dep.spec.selector.matchLabels);
    const svc = one('Service');
    expect(podLabels).toMatchObject(svc.spec.selector);
    expect(dep.spec.template.spec.containers[0].ports.map((p: any) => p.name)).toContain(svc.spec.ports[0].targetPort);
    expect(podLabels).toMatchObject(one('PodDisruptionBudget').spec.selector.matchLabels);
  });

  it('take configuration from the ConfigMap and secrets from the Secret, holding only variables the service reads', () => {
    const [c] = one('Deployment').spec.template.spec.containers;
    const cm = one('ConfigMap');
    const secret = one('Secret');
    expect(c.envFrom).toEqual(
      expect.arrayContaining([{ configMapRef: { name: cm.metadata.name } }, { secretRef: { name: secret.metadata.name } }]),
    );
    for (const name of [...Object.keys(cm.data), ...Object.keys(secret.stringData)])
      expect({ name, known: knownVariables.has(name) }).toEqual({ name, known: true });
    for (const secretName of ['JWT_SECRET', 'DATABASE_URL', 'S3_SECRET_ACCESS_KEY', 'CLOUDFRONT_PRIVATE_KEY']) {
      expect(cm.data[secretName]).toBeUndefined();
      expect(secret.stringData).toHaveProperty(secretName);
    }
    expect(Number(cm.data.PORT)).toBe(c.ports.find((p: any) => p.name === 'http').containerPort);
  });

  it('hold a configuration the service accepts (regions included)', () => {
    const config = loadConfig({ ...one('ConfigMap').data, ...one('Secret').stringData });
    expect(config.NODE_ENV).toBe('production');
    expect(config.storageRegions.map((r) => [r.name, r.primary])).toEqual([
      ['eu-west-1', true],
      ['us-east-1', false],
    ]);
  });

  it('give the pod longer to stop than the drain takes, and notice the drain before the server closes', () => {
    const spec = one('Deployment').spec.template.spec;
    const cm = one('ConfigMap').data;
    const drainMs = Number(cm.SHUTDOWN_DRAIN_DELAY_MS);
    expect(spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs + Number(cm.SHUTDOWN_TIMEOUT_MS));
    const ready = spec.containers[0].readinessProbe;
    expect(ready.periodSeconds * ready.failureThreshold * 1000).toBeLessThan(drainMs);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('builds in one stage and runs in another, from the same Node major as the service supports', () => {
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/node:20\b/);
    expect(finalStage).toMatch(/COPY --from=build/);
    expect(dockerfile).toMatch(/npm prune --omit=dev|npm ci --omit=dev/);
  });

  it('runs the build output as a non-root user and checks liveness', () => {
    expect(finalStage).toMatch(/^USER\s+[1-9]\d*/m);
    const cmd = /^CMD\s+(\[.*\])/m.exec(finalStage)![1];
    const entry = (JSON.parse(cmd) as string[]).find((a) => a.endsWith('.js'))!;
    expect(entry).toBe('dist/apps/api/src/main.js');
    expect(existsSync(path.join(ROOT, entry))).toBe(true);
    expect(finalStage).toMatch(/HEALTHCHECK .*\/health\/live/);
    expect(finalStage).toMatch(/^EXPOSE\s+3000/m);
  });

  it('keeps local state, secrets and build artefacts out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const p of ['node_modules', 'dist', 'data', '.git']) expect(ignored).toContain(p);
  });
});
