// The signed-in API key. Kept in sessionStorage: it lasts as long as the tab, and no longer.

const STORAGE_KEY = "sluice.apiKey";

function stored(): string | null {
  try {
    return typeof sessionStorage === "undefined" ? null : sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: the key lives in memory only
  }
}

class Session {
  key = $state<string | null>(stored());

  get signedIn(): boolean {
    return this.key !== null;
  }

  signIn(key: string): void {
    this.key = key;
    try {
      sessionStorage.setItem(STORAGE_KEY, key);
    } catch {
      // memory only
    }
  }

  signOut(): void {
    this.key = null;
    try {
      sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // nothing stored
    }
  }
}

export const session = new Session();
