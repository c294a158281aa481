/**
 * What an account may do: the admin of the node, a hospital's staff, a doctor, a patient, a
 * researcher (de-identified study exports only, never an identified record).
 */
export type Role = 'admin' | 'staff' | 'doctor' | 'patient' | 'researcher'

/** Every role, in the order the configuration and the API list them. */
export const roles: readonly Role[] = ['admin', 'staff', 'doctor', 'patient', 'researcher']
