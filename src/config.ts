import { readFileSync, existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { AppError } from './errors.ts'
import { cipherSuites, type CipherSuite } from './crypto/stream.ts'
import type { KeyScheme } from './crypto/key-wrap.ts'
import { roles, type Role } from './roles.ts'

/** The node's configuration: validated once, then frozen. */
export interface Config {
  /** Directory holding the chain state, blocks, database and keys. */
  readonly home: string
  readonly host: string
  readonly port: number
  /** JSON-RPC URL of an external EVM chain; empty = the embedded anvil. */
  readonly chainRpc: string
  /** Database URL; empty = SQLite file in home. */
  readonly dbUrl: string
  /** SMTP URL; empty = mail kept in the database outbox. */
  readonly smtpUrl: string
  /** The From header of the node's mail, e.g. `MedLedger <no-reply@example.org>`. */
  readonly mailFrom: string
  /**
   * Where users reach this node's UI (`--public-url`): links in mail, and the only site a
   * Sign-In with Ethereum message may name; empty = `http://host:port`, the listening address.
   */
  readonly publicUrl: string
  /** Requests per minute that one client address may make to each unauthenticated route (sign-in, recovery, sign-up, share-token reads); health and status get ten times as many. */
  readonly rateLimitPerMinute: number
  readonly cipherSuite: CipherSuite
  readonly keyScheme: KeyScheme
  /** Largest accepted upload, in bytes. */
  readonly maxUploadBytes: number
  /** Index new uploads for keyword search (README "Search"); off: they are stored unindexed. */
  readonly searchIndex: boolean
  readonly sessionTtlSeconds: number
  /** Roles that must sign in with a second factor (TOTP); empty (`none`) turns it off. */
  readonly mfaRoles: readonly Role[]
  /** How long a break-glass access lasts. */
  readonly emergencyWindowSeconds: number
  /** How often the embedded chain writes its state file. */
  readonly anvilStateIntervalSeconds: number
  /** Address of an existing consortium's Registry to join; empty = found a new consortium. */
  readonly registry: string
  /** `HOST:PORT` where the embedded chain listens, to serve other nodes (demo and tests); default loopback, any port. */
  readonly chainListen: string
  /**
   * Serve anvil's dev methods (`evm_*`, `anvil_*`, unsigned transactions…) on the embedded chain's
   * RPC, for tests and demos that move the chain's clock. Off: only standard reads and signed
   * transactions are served.
   */
  readonly chainDevMethods: boolean
  /** libp2p listen multiaddrs; empty = IPFS stays offline (a single node). */
  readonly ipfsListen: readonly string[]
  /** libp2p multiaddrs (ending in /p2p/<peer id>) of peers to dial besides the admitted members. */
  readonly ipfsPeers: readonly string[]
  /** How many member nodes besides its home node keep each record. */
  readonly replicas: number
  /** How long the ledger follower's background retry of a quarantined event waits for an IPFS block it names, in ms. */
  readonly followRetryMs: number
  /** Days an admission or removal proposal stays open to votes (chain time); set in the Registry when this node founds the consortium. */
  readonly proposalTtlDays: number
  /** The name a joining node's hospital applies with. */
  readonly hospitalName: string
  /**
   * An extra API process of a hospital whose node already runs on this home: it serves the API
   * from the shared PostgreSQL database and block store, and leaves the chain, the ledger
   * follower, replication, peering and mail to the node.
   */
  readonly apiOnly: boolean
  /** MiB of verified ciphertext blocks kept in memory for reads (an LRU); 0 turns the cache off. */
  readonly cacheMb: number
  /** MiB up to which GET /fhir/R4/Binary/{id} answers a Binary resource (base64 `data`); above it, 413 BINARY_TOO_LARGE. */
  readonly fhirBinaryMaxMb: number
  /** Argon2id cost for keystores and passwords (memory KiB, passes). Lower only in tests. */
  readonly kdf: { readonly m: number; readonly t: number; readonly p: number }
}

const keySchemes: readonly KeyScheme[] = ['x25519-hpke', 'rsa-oaep-4096']

export const defaultConfig: Omit<Config, 'home'> & { home: string } = {
  home: './.medledger',
  host: '127.0.0.1',
  port: 8080,
  chainRpc: '',
  dbUrl: '',
  smtpUrl: '',
  mailFrom: 'MedLedger <no-reply@medledger.local>',
  publicUrl: '',
  rateLimitPerMinute: 60,
  cipherSuite: 'aes-256-gcm',
  keyScheme: 'x25519-hpke',
  maxUploadBytes: 2 * 1024 ** 3,
  searchIndex: true,
  sessionTtlSeconds: 12 * 3600,
  mfaRoles: ['admin', 'doctor'],
  anvilStateIntervalSeconds: 1,
  emergencyWindowSeconds: 24 * 3600,
  kdf: { m: 19456, t: 2, p: 1 },
  registry: '',
  chainListen: '',
  chainDevMethods: false,
  ipfsListen: [],
  ipfsPeers: [],
  replicas: 1,
  followRetryMs: 20_000,
  proposalTtlDays: 7,
  hospitalName: '',
  apiOnly: false,
  cacheMb: 256,
  fhirBinaryMaxMb: 16,
}

/** Environment variable for each key, e.g. `MEDLEDGER_MAX_UPLOAD_BYTES`. */
const envNames: Record<keyof Config, string> = {
  home: 'MEDLEDGER_HOME',
  host: 'MEDLEDGER_HOST',
  port: 'MEDLEDGER_PORT',
  chainRpc: 'MEDLEDGER_CHAIN_RPC',
  dbUrl: 'MEDLEDGER_DB',
  smtpUrl: 'MEDLEDGER_SMTP_URL',
  mailFrom: 'MEDLEDGER_MAIL_FROM',
  publicUrl: 'MEDLEDGER_PUBLIC_URL',
  rateLimitPerMinute: 'MEDLEDGER_RATE_LIMIT_PER_MINUTE',
  cipherSuite: 'MEDLEDGER_CIPHER_SUITE',
  keyScheme: 'MEDLEDGER_KEY_SCHEME',
  maxUploadBytes: 'MEDLEDGER_MAX_UPLOAD_BYTES',
  searchIndex: 'MEDLEDGER_SEARCH_INDEX',
  sessionTtlSeconds: 'MEDLEDGER_SESSION_TTL_SECONDS',
  mfaRoles: 'MEDLEDGER_MFA_ROLES',
  anvilStateIntervalSeconds: 'MEDLEDGER_ANVIL_STATE_INTERVAL',
  emergencyWindowSeconds: 'MEDLEDGER_EMERGENCY_WINDOW_SECONDS',
  kdf: 'MEDLEDGER_KDF',
  registry: 'MEDLEDGER_REGISTRY',
  chainListen: 'MEDLEDGER_CHAIN_LISTEN',
  chainDevMethods: 'MEDLEDGER_CHAIN_DEV_METHODS',
  ipfsListen: 'MEDLEDGER_IPFS_LISTEN',
  ipfsPeers: 'MEDLEDGER_IPFS_PEERS',
  replicas: 'MEDLEDGER_REPLICAS',
  followRetryMs: 'MEDLEDGER_FOLLOW_RETRY_MS',
  proposalTtlDays: 'MEDLEDGER_PROPOSAL_TTL_DAYS',
  hospitalName: 'MEDLEDGER_HOSPITAL_NAME',
  apiOnly: 'MEDLEDGER_API_ONLY',
  cacheMb: 'MEDLEDGER_CACHE_MB',
  fhirBinaryMaxMb: 'MEDLEDGER_FHIR_BINARY_MAX_MB',
}

export type ConfigInput = { -readonly [K in keyof Config]?: unknown }

export interface LoadConfigParams {
  /** Values from command-line flags: they win over everything else. */
  flags?: ConfigInput
  env?: NodeJS.ProcessEnv
  /** An explicit config file (JSON); otherwise `<home>/config.json` when present. */
  file?: string
}

/**
 * Builds the node's configuration from flags, `MEDLEDGER_*` environment variables, an optional
 * JSON file and the embedded defaults, in that order of precedence.
 * @throws AppError VALIDATION_FAILED naming the offending key.
 */
export function loadConfig({ flags = {}, env = process.env, file }: LoadConfigParams = {}): Readonly<Config> {
  const fromEnv: ConfigInput = {}
  for (const [key, name] of Object.entries(envNames) as [keyof Config, string][]) {
    const v = env[name]
    if (v !== undefined && v !== '') fromEnv[key] = key === 'kdf' ? parseJson(name, v) : v
  }
  const home = resolve(String(flags.home ?? fromEnv.home ?? defaultConfig.home))
  const path = file ?? resolve(home, 'config.json')
  let fromFile: ConfigInput = {}
  if (existsSync(path)) fromFile = parseJson(path, readFileSync(path, 'utf8')) as ConfigInput
  else if (file) throw invalid('config file', `not found: ${file}`)
  const merged = { ...defaultConfig, ...strip(fromFile), ...strip(fromEnv), ...strip(flags), home }

  const config: Config = {
    home,
    host: str('host', merged.host),
    port: int('port', merged.port, 0, 65535),
    chainRpc: url('chainRpc', merged.chainRpc, ['http:', 'https:', 'ws:', 'wss:']),
    dbUrl: str('dbUrl', merged.dbUrl),
    smtpUrl: url('smtpUrl', merged.smtpUrl, ['smtp:', 'smtps:']),
    mailFrom: mailbox('mailFrom', merged.mailFrom),
    publicUrl: publicUrl(merged.publicUrl),
    rateLimitPerMinute: int('rateLimitPerMinute', merged.rateLimitPerMinute, 1, 1_000_000),
    cipherSuite: oneOf('cipherSuite', merged.cipherSuite, cipherSuites),
    keyScheme: oneOf('keyScheme', merged.keyScheme, keySchemes),
    maxUploadBytes: int('maxUploadBytes', merged.maxUploadBytes, 0, Number.MAX_SAFE_INTEGER),
    searchIndex: bool('searchIndex', merged.searchIndex),
    sessionTtlSeconds: int('sessionTtlSeconds', merged.sessionTtlSeconds, 60, 30 * 24 * 3600),
    mfaRoles: roleList('mfaRoles', merged.mfaRoles),
    anvilStateIntervalSeconds: int('anvilStateIntervalSeconds', merged.anvilStateIntervalSeconds, 1, 3600),
    emergencyWindowSeconds: int('emergencyWindowSeconds', merged.emergencyWindowSeconds, 60, 7 * 24 * 3600),
    kdf: kdf(merged.kdf),
    registry: address('registry', merged.registry),
    chainListen: hostPort('chainListen', merged.chainListen),
    chainDevMethods: bool('chainDevMethods', merged.chainDevMethods),
    ipfsListen: multiaddrs('ipfsListen', merged.ipfsListen),
    ipfsPeers: multiaddrs('ipfsPeers', merged.ipfsPeers),
    replicas: int('replicas', merged.replicas, 0, 16),
    followRetryMs: int('followRetryMs', merged.followRetryMs, 100, 600_000),
    proposalTtlDays: int('proposalTtlDays', merged.proposalTtlDays, 1, 365),
    hospitalName: str('hospitalName', merged.hospitalName).trim(),
    apiOnly: bool('apiOnly', merged.apiOnly),
    cacheMb: int('cacheMb', merged.cacheMb, 0, 1024 * 1024),
    fhirBinaryMaxMb: int('fhirBinaryMaxMb', merged.fhirBinaryMaxMb, 0, 1024),
  }
  if (config.apiOnly && !/^postgres(ql)?:\/\//i.test(config.dbUrl)) throw invalid('apiOnly', 'several API processes share one PostgreSQL database: give --db postgres://…')
  if (config.apiOnly && config.chainRpc === '') throw invalid('apiOnly', 'an API process uses the node\'s chain: give --chain-rpc URL')
  if (config.registry !== '' && config.chainRpc === '') throw invalid('registry', 'joining a consortium needs --chain-rpc, the chain its registry is on')
  if (config.chainListen !== '' && config.chainRpc !== '') throw invalid('chainListen', 'only the embedded chain listens; --chain-rpc names an external one')
  if (config.chainDevMethods && config.chainRpc !== '') throw invalid('chainDevMethods', 'only the embedded chain\'s RPC is served by the node; --chain-rpc names an external one')
  for (const p of config.ipfsPeers) if (!/\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(p)) throw invalid('ipfsPeers', `${p} does not end in /p2p/<peer id>`)
  if (config.dbUrl !== '' && !/^(sqlite:|postgres(ql)?:\/\/)/i.test(config.dbUrl)) {
    throw invalid('dbUrl', 'expected empty (SQLite in the home), sqlite:PATH or postgres://…')
  }
  return Object.freeze({ ...config, mfaRoles: Object.freeze([...config.mfaRoles]), kdf: Object.freeze({ ...config.kdf }), ipfsListen: Object.freeze([...config.ipfsListen]), ipfsPeers: Object.freeze([...config.ipfsPeers]) })
}

function strip(o: ConfigInput): ConfigInput {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}

function invalid(key: string, why: string): AppError {
  return new AppError('VALIDATION_FAILED', { message: `Invalid configuration: ${key}: ${why}.` })
}

function parseJson(where: string, text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw invalid(where, 'not valid JSON')
  }
}

function str(key: string, v: unknown): string {
  if (typeof v !== 'string') throw invalid(key, 'expected a string')
  return v
}

function int(key: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
    throw invalid(key, `expected a whole number from ${min} to ${max}`)
  }
  return n
}

function url(key: string, v: unknown, protocols: string[]): string {
  const s = str(key, v)
  if (s === '') return s
  let u: URL
  try {
    u = new URL(s)
  } catch {
    throw invalid(key, 'not a URL')
  }
  if (!protocols.includes(u.protocol)) throw invalid(key, `expected one of ${protocols.join(', ')}`)
  return s
}

/**
 * The node's public address: an http(s) origin, optionally with a path, and nothing a browser
 * would not show in its address bar as the site (no user or password, query or fragment).
 */
function publicUrl(v: unknown): string {
  const s = url('publicUrl', v, ['http:', 'https:'])
  if (s === '') return s
  const u = new URL(s)
  if (u.username !== '' || u.password !== '') throw invalid('publicUrl', 'must not hold a user name or password')
  if (u.search !== '' || u.hash !== '' || /[?#]/.test(s)) throw invalid('publicUrl', 'must not have a query or fragment')
  return s.replace(/\/+$/, '')
}

/** `Name <local@domain>` or `local@domain`, on one line (it becomes a mail header). */
function mailbox(key: string, v: unknown): string {
  const s = str(key, v).trim()
  if (!/^(?:[^<>@\x00-\x1f\x7f]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/.test(s)) {
    throw invalid(key, 'expected an address such as "MedLedger <no-reply@example.org>"')
  }
  return s
}

function oneOf<T extends string>(key: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw invalid(key, `expected one of ${allowed.join(', ')}`)
  return v as T
}

/** Roles as a comma-separated string (`admin,doctor`; `none` = no role) or a JSON array. */
function roleList(key: string, v: unknown): Role[] {
  const items = typeof v === 'string' ? (v.trim().toLowerCase() === 'none' ? [] : v.split(',').map((r) => r.trim()).filter((r) => r !== '')) : v
  if (!Array.isArray(items)) throw invalid(key, 'expected roles separated by commas, or none')
  return [...new Set(items.map((r) => oneOf(key, r, roles)))]
}

function bool(key: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v
  if (v === 'true' || v === '1') return true
  if (v === 'false' || v === '0' || v === '') return false
  throw invalid(key, 'expected true or false')
}

function address(key: string, v: unknown): string {
  const s = str(key, v).trim()
  if (s !== '' && !/^0x[0-9a-fA-F]{40}$/.test(s)) throw invalid(key, 'expected a contract address (0x and 40 hexadecimal characters)')
  return s.toLowerCase()
}

/** `HOST:PORT` (IPv4, name, or [IPv6]); the port may be 0 (any free port). */
function hostPort(key: string, v: unknown): string {
  const s = str(key, v).trim()
  if (s !== '' && !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(s)) throw invalid(key, 'expected HOST:PORT, e.g. 127.0.0.1:8545')
  if (s !== '') int(key, s.slice(s.lastIndexOf(':') + 1), 0, 65535)
  return s
}

/** Multiaddrs, as a JSON array or separated by commas or spaces (flags may repeat). */
function multiaddrs(key: string, v: unknown): string[] {
  const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(/[\s,]+/) : undefined
  if (!items) throw invalid(key, 'expected multiaddrs')
  const out = items.map((x) => String(x).trim()).filter((x) => x !== '')
  for (const m of out) if (!/^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d{1,5}(\/p2p\/[^/]+)?$/.test(m)) throw invalid(key, `${m} is not a TCP multiaddr such as /ip4/127.0.0.1/tcp/4001`)
  return out
}

function kdf(v: unknown): Config['kdf'] {
  if (typeof v !== 'object' || v === null) throw invalid('kdf', 'expected { m, t, p }')
  const o = v as Record<string, unknown>
  return { m: int('kdf.m', o.m, 1024, 4 * 1024 * 1024), t: int('kdf.t', o.t, 1, 20), p: int('kdf.p', o.p, 1, 16) }
}
