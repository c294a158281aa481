import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Api, cleanup, seed, startNodeProcess, tempDir, type NodeProcess } from '../helpers/node-process.ts'
import { crashAfterSend, crashEnv, waitFor } from '../helpers/crash-after-send.ts'

// A patient's recovery whose approval was sent but whose receipt the node never handled (killed
// -9 with `approveRecovery` in the chain's pool, the chain losing it too): at the next start the
// journal sends it again, and the node's follower finishes the approval from its own
// RecoveryApproved, so the one-time code works and the patient reads their records.
describe('recovery: killed -9 after the approval was sent', () => {
  const home = tempDir('ml-recovery-crash-')
  let node: NodeProcess | undefined
  after(async () => {
    await node?.stop()
    cleanup(home)
  })

  it('after the restart the recovery is approved, the code sets a new password and the patient reads the old record', async () => {
    node = await startNodeProcess({ home, env: crashEnv })
    let api = new Api(node.url)
    const people = await seed(api)
    const staff: Record<string, { token: string; address: string }> = {}
    for (const who of ['staff1', 'staff2']) {
      const made = await api.json('POST', '/users', { role: 'staff', hospital: people.hospital.id, email: `${who}@example.org`, name: who, password: `${who}-password-123` }, people.admin)
      assert.equal(made.status, 201, JSON.stringify(made.body))
      staff[who] = { token: await api.login(`${who}@example.org`, `${who}-password-123`), address: made.body.account.address }
    }
    const bytes = randomBytes(60_000)
    const up = await api.upload(people.doctor.token, people.patient.email, 'history.bin', bytes)
    assert.equal(up.status, 201, JSON.stringify(up.body))
    const started = await api.json('POST', '/recoveries', { patient: people.patient.id, verifiedById: 'passport 12AB34567' }, staff.staff1!.token)
    assert.equal(started.status, 201, JSON.stringify(started.body))
    const { recoveryId } = started.body.recovery as { recoveryId: string }
    const code = started.body.code as string

    node = await crashAfterSend(node, staff.staff2!.address, () => api.json('POST', `/recoveries/${recoveryId}/approve`, undefined, staff.staff2!.token))
    api = new Api(node.url)
    const staff2 = await api.login('staff2@example.org', 'staff2-password-123')
    const listed = await waitFor(() => api.json('GET', '/recoveries', undefined, staff2), (r) => r.body.recoveries?.[0]?.state === 'approved')
    assert.equal(listed.status, 200, JSON.stringify(listed.body))
    const recovery = listed.body.recoveries.find((r: any) => r.recoveryId === recoveryId)
    assert.deepEqual([recovery.state, recovery.rewrapped, recovery.notRewrapped], ['approved', 1, 0], 'approved here as on chain, the one record re-wrapped')
    const again = await api.json('POST', `/recoveries/${recoveryId}/approve`, undefined, staff2)
    assert.equal(again.body.code, 'RECOVERY_NOT_PENDING')

    const reset = await api.json('POST', '/auth/recover', { email: people.patient.email, recoveryCode: code, newPassword: 'a-new-password-456' })
    assert.equal(reset.status, 200, JSON.stringify(reset.body))
    await assert.rejects(api.login(people.patient.email, people.patient.password), 'the old password no longer opens anything')
    const patient = await api.login(people.patient.email, 'a-new-password-456')
    const got = await api.download(patient, up.body.recordId)
    assert.equal(got.status, 200, JSON.stringify(got.json))
    assert.ok(got.bytes.equals(bytes), 'the old record reads back byte-identical with the new key')
  })
})
