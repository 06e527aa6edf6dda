import { availableParallelism } from 'node:os';

/**
 * libuv's threadpool (4 threads unless UV_THREADPOOL_SIZE says otherwise) runs every sharp render and header read as
 * well as every file-system call (the local driver's writes and fsyncs, temporary files). With TRANSFORM_CONCURRENCY
 * renders holding threads, fs calls would queue behind them and renders behind slow fsyncs — a render slot held
 * while libvips waits for a thread. So the pool gets a thread per render slot plus 4, unless the operator set it.
 * Imported first by main.ts: libuv reads the variable when the pool first starts.
 */
if (!process.env.UV_THREADPOOL_SIZE) {
  const renders = Number(process.env.TRANSFORM_CONCURRENCY) || availableParallelism();
  process.env.UV_THREADPOOL_SIZE = String(Math.min(1024, Math.max(4, renders + 4)));
}
