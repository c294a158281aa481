import { loadConfig } from '../../config.ts'
import { startNode } from '../../node/start-node.ts'
import { redactDbUrl } from '../../db/open-database.ts'
import { buildApp } from '../../api/build-app.ts'
import { ensureWebBuild } from '../web-build.ts'

export interface StartFlags {
  home?: string; port?: string; host?: string; 'chain-rpc'?: string; db?: string; config?: string; 'public-url'?: string
  registry?: string; 'chain-listen'?: string; 'chain-dev-methods'?: boolean; 'ipfs-listen'?: string[]; 'ipfs-peer'?: string[]; replicas?: string; 'hospital-name'?: string; 'api-only'?: boolean
}

/** `medledger start`: runs a node until SIGINT/SIGTERM. */
export async function start(flags: StartFlags): Promise<void> {
  const config = loadConfig({ flags: { home: flags.home, port: flags.port, host: flags.host, chainRpc: flags['chain-rpc'], dbUrl: flags.db, publicUrl: flags['public-url'],
    registry: flags.registry, chainListen: flags['chain-listen'], chainDevMethods: flags['chain-dev-methods'], ipfsListen: flags['ipfs-listen'], ipfsPeers: flags['ipfs-peer'], replicas: flags.replicas, hospitalName: flags['hospital-name'], apiOnly: flags['api-only'] }, file: flags.config })
  const log = (level: string, msg: string) => process.stderr.write(`[${new Date().toISOString()}] ${level}: ${msg}\n`)
  log('info', `starting node in ${config.home}; database: ${config.dbUrl === '' ? 'SQLite in the home' : redactDbUrl(config.dbUrl)}`)
  const webRoot = await ensureWebBuild({ log })
  const node = await startNode({ config, log, announce: (text) => process.stdout.write(text + '\n') })
  const app = await buildApp({ services: node.services, webRoot })
  let address: string
  try {
    address = await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await node.stop()
    throw err
  }
  const url = address.replace('://[::1]', '://localhost')
  process.stdout.write(`MedLedger node listening on ${url}\n  ${webRoot ? `portal: ${url}/  ` : ''}API: ${url}/api/v1  docs: ${url}/api/v1/docs  chain: ${node.services.ledger.rpcUrl} (id ${node.services.ledger.chainId})\n`)
  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    log('info', `${signal}: shutting down`)
    // In-flight requests get a bounded grace period; an upload cut off here was never
    // acknowledged, and an anchor already signed is re-sent from the journal at the next start.
    await Promise.race([app.close().catch(() => {}), new Promise((r) => setTimeout(r, 10_000).unref())])
    await node.stop()
    log('info', 'stopped')
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
}
