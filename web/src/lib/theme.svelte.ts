// The colour theme: the system's, or light or dark as chosen; kept in localStorage across sessions.

export type ThemeChoice = "system" | "light" | "dark";
const STORAGE_KEY = "sluice.theme";

function stored(): ThemeChoice {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === "light" || value === "dark" ? value : "system";
  } catch {
    return "system";
  }
}

class Theme {
  choice = $state<ThemeChoice>(typeof localStorage === "undefined" ? "system" : stored());

  /** Applies the choice to <html> (base.css reads `data-theme`) and remembers it. */
  set(choice: ThemeChoice): void {
    this.choice = choice;
    if (typeof document !== "undefined") {
      if (choice === "system") delete document.documentElement.dataset.theme;
      else document.documentElement.dataset.theme = choice;
    }
    try {
      if (choice === "system") localStorage.removeItem(STORAGE_KEY);
      else localStorage.setItem(STORAGE_KEY, choice);
    } catch {
      // not remembered
    }
  }

  /** The next choice in the switch's cycle: system → light → dark → system. */
  next(): ThemeChoice {
    return this.choice === "system" ? "light" : this.choice === "light" ? "dark" : "system";
  }
}

export const theme = new Theme();
