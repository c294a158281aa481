import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * Starts a worker thread on the module `name` beside the caller (`beside`: the caller's
 * `import.meta.url`): the compiled `name.js` when the caller runs compiled (dist/), else `name.ts`
 * through a small bootstrap that registers tsx first: a worker inherits neither tsx's API
 * registration (bin/medledger.js's fallback) nor, on Node 20, an `--import tsx` given in its
 * execArgv before its main module loads.
 */
export function startWorkerThread(beside: string, name: string, options: WorkerOptions = {}): Worker {
  if (!beside.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, beside), options)
  const tsx = import.meta.resolve('tsx/esm/api')
  const main = new URL(`./${name}.ts`, beside).href
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(main)}) })`
  return new Worker(bootstrap, { ...options, eval: true })
}
