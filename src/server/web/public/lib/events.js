// How an activity event reads to a person.
const VERBS = {
  upload: 'changed',
  delete: 'deleted',
  move: 'moved',
  conflict: 'made a conflict copy of',
  restore: 'restored',
  merge: 'merged',
  register: 'registered',
  revoke: 'revoked',
  signin: 'console sign-in',
  signin_refused: 'refused console sign-in',
  auth_refused: 'refused a credential',
  gc: 'garbage collection',
  trash_empty: 'emptied from trash',
  invite: 'enrollment code created',
  signout: 'console sign-out',
  conflict_resolved: 'resolved the conflict of',
};

export function verb(type) {
  return VERBS[type] ?? type;
}
