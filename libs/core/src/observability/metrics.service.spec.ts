import { MetricsService } from './metrics.service';

const metricsService = () => new MetricsService({ METRICS_COLLECT_TIMEOUT_MS: 1000 });

describe('MetricsService', () => {
  it('exports every upload outcome and the integrity counter at 0 from the start', async () => {
    const text = await metricsService().render();
    for (const outcome of ['ready', 'failed', 'quarantined', 'dead_lettered'])
      expect(text).toContain(`media_uploads_total{outcome="${outcome}"} 0`);
    expect(text).toMatch(/^media_integrity_corrupt_objects_total 0$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('counts uploads, corrupt objects, jobs and HTTP requests with the documented labels', async () => {
    const m = metricsService();
    m.recordUpload('ready');
    m.recordUpload('ready');
    m.recordUpload('quarantined');
    m.recordCorrupt();
    m.recordCorrupt(2);
    m.recordJob('processing', 'process-asset', 'completed', 0.3);
    m.recordJob('processing', 'process-asset', 'retried', 0.1);
    m.recordJob('processing', 'process-asset', 'dead_lettered');
    m.observeHttp('GET', '/media/:id', 404, 0.02);
    const text = await m.render();
    expect(text).toContain('media_uploads_total{outcome="ready"} 2');
    expect(text).toContain('media_uploads_total{outcome="quarantined"} 1');
    expect(text).toMatch(/^media_integrity_corrupt_objects_total 3$/m);
    expect(text).toContain('media_jobs_total{queue="processing",job="process-asset",outcome="completed"} 1');
    expect(text).toContain('media_jobs_total{queue="processing",job="process-asset",outcome="dead_lettered"} 1');
    expect(text).toContain('media_job_duration_seconds_count{queue="processing",job="process-asset",outcome="completed"} 1');
    expect(text).toContain('media_job_duration_seconds_count{queue="processing",job="process-asset",outcome="failed"} 1');
    expect(text).toContain(
      'media_http_request_duration_seconds_count{method="GET",route="/media/:id",status_code="404",status_class="4xx"} 1',
    );
  });

  it('lets modules register their own metrics, once per name, including scrape-time gauges', async () => {
    const m = metricsService();
    let depth = 3;
    const g = m.gauge({
      name: 'test_depth',
      help: 'h',
      collect() {
        this.set(depth);
      },
    });
    expect(m.gauge({ name: 'test_depth', help: 'h' })).toBe(g);
    expect(await m.render()).toMatch(/^test_depth 3$/m);
    depth = 5;
    expect(await m.render()).toMatch(/^test_depth 5$/m);
  });

  it('keeps registries apart between instances (several apps in one process)', async () => {
    const a = metricsService();
    const b = metricsService();
    a.recordUpload('failed');
    expect(await b.render()).toContain('media_uploads_total{outcome="failed"} 0');
  });
});
