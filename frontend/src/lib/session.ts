// The API key lives in sessionStorage: it is kept for this browser tab's
// session only and forgotten when the tab closes.

const KEY = 'sluice.apiKey'

export function loadKey(): string {
  try {
    return sessionStorage.getItem(KEY) ?? ''
  } catch {
    return ''
  }
}

export function saveKey(key: string): void {
  sessionStorage.setItem(KEY, key)
}

export function clearKey(): void {
  sessionStorage.removeItem(KEY)
}
