// Device names appear inside conflict copy names, so they must be valid inside one path
// segment and must not confuse the "(conflict from NAME DATE)" pattern.
export const MAX_DEVICE_NAME = 64;

export function validateDeviceName(raw: unknown): string {
  if (typeof raw !== 'string') throw new Error('device name must be a string');
  const name = raw.normalize('NFC');
  if (name.length === 0 || name.length > MAX_DEVICE_NAME) {
    throw new Error(`device name must be 1 to ${MAX_DEVICE_NAME} characters`);
  }
  if (name.trim() !== name) throw new Error('device name must not start or end with a space');
  if (/[\u0000-\u001f\u007f-\u009f/\\()]/.test(name)) {
    throw new Error('device name must not contain control characters, "/", "\\", "(" or ")"');
  }
  return name;
}
