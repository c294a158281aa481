import type { ApiClient } from './api-client.ts'

export interface BenchAccounts {
  hospitalId: string
  hospitalAddress: string
  doctor: { email: string; address: string; token: string }
  patient: { email: string; address: string; token: string }
}

interface Account { id: string; address: string }

/** The password of the doctor and the patient (bench accounts on a throw-away node). */
export const benchAccountPassword = 'bench-password-0123456789'

/**
 * Through the API, as a user would: the admin signs in, admits a hospital and creates a doctor
 * and a patient of it (each registered on chain), then both sign in.
 * @throws ApiError when a call fails.
 */
export async function setUpAccounts(api: ApiClient, { adminEmail, adminPassword }: { adminEmail: string; adminPassword: string }): Promise<BenchAccounts> {
  const login = async (email: string, password: string) =>
    (await api.json<{ token: string }>('POST', '/auth/login', { body: { email, password } })).token
  const admin = await login(adminEmail, adminPassword)
  const hospital = await api.json<{ id: string; address: string }>('POST', '/hospitals', { token: admin, body: { name: 'Bench General Hospital' } })
  const password = benchAccountPassword
  const create = async (role: 'doctor' | 'patient', email: string, name: string) =>
    (await api.json<{ account: Account }>('POST', '/users', { token: admin, body: { role, hospital: hospital.id, email, name, password } })).account
  const doctor = await create('doctor', 'doctor@bench.test', 'Dr Bench')
  const patient = await create('patient', 'patient@bench.test', 'Pat Bench')
  return {
    hospitalId: hospital.id,
    hospitalAddress: hospital.address,
    doctor: { email: 'doctor@bench.test', address: doctor.address, token: await login('doctor@bench.test', password) },
    patient: { email: 'patient@bench.test', address: patient.address, token: await login('patient@bench.test', password) },
  }
}
