import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createAccount } from '../../src/accounts/create-account.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { seed, testEnv } from '../helpers/node-process.ts'

// A joined node's admin belongs to its hospital and registers its doctors and patients from its
// own key, once the hospital's key has registered it as staff on the ledger (start-consortium.ts).
// Between the admission and that registration being mined, creating a doctor must answer
// NOT_ADMITTED and write nothing, not send a transaction the ledger refuses (LEDGER_REVERTED).
// Here an admin of the seeded hospital that the ledger does not know stands for that moment.

let n: InProcessNode
let api: InjectApi
let hospitalId: string

before(async () => {
  n = await startInProcessNode()
  api = new InjectApi(n.app, n.url)
  const seeded = await seed(api)
  hospitalId = seeded.hospital.id
  await createAccount(n.node.services, { actor: undefined, role: 'admin', hospital: hospitalId, email: 'joined-admin@example.org', name: 'Joined Admin', password: 'joined-admin-password-1' })
})

after(async () => { await n?.stop() })

test('an admin not yet registered as staff on the ledger gets NOT_ADMITTED for a doctor, and nothing is written', async () => {
  const token = await api.login('joined-admin@example.org', 'joined-admin-password-1')
  const r = await api.json('POST', '/users', { role: 'doctor', email: 'too-early@example.org', name: 'Too Early', password: 'doctor-password-123' }, token)
  assert.equal(r.status, 409, JSON.stringify(r.body))
  assert.equal(r.body.code, 'NOT_ADMITTED')
  assert.match(r.body.message, /registration as staff/)
  assert.equal(await n.node.services.db.get('SELECT 1 AS one FROM accounts WHERE email = ?', 'too-early@example.org'), undefined)
  // The hospital's own staff path is untouched: the consortium admin still creates the doctor.
  const admin = await api.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
  const ok = await api.json('POST', '/users', { role: 'doctor', hospital: hospitalId, email: 'too-early@example.org', name: 'In Time', password: 'doctor-password-123' }, admin)
  assert.equal(ok.status, 201, JSON.stringify(ok.body))
})
