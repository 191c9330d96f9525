// Kept in step with package.json by hand: reading package.json at run time would tie the
// compiled output to the repository layout.
export const VERSION = '0.1.0';
