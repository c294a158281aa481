/** What an account may do: the admin of the node, a hospital's staff, a doctor, a patient. */
export type Role = 'admin' | 'staff' | 'doctor' | 'patient'

/** Every role, in the order the configuration and the API list them. */
export const roles: readonly Role[] = ['admin', 'staff', 'doctor', 'patient']
