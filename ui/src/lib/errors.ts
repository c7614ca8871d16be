// What the user should do for each error code the Rust side sends.
import type { UiError, Kind } from "../bindings";

const advice: Record<Kind, string> = {
  sign_in: "Sign in again in Settings.",
  unreachable: "The server cannot be reached: is it running, and is its URL right?",
  local_file: "A file on this computer could not be read or written.",
  capture: "There is nothing to capture there.",
  invalid: "Check the highlighted value.",
  failed: "Something went wrong.",
};

/** One line for the user: the advice for the code, then the details. */
export function explain(e: UiError | string | unknown): string {
  if (typeof e === "string") return e;
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const err = e as UiError;
    const head = advice[err.code] ?? advice.failed;
    return err.message ? `${head} (${err.message})` : head;
  }
  return `${advice.failed} (${String(e)})`;
}

/** Whether the fix is to sign in (the UI then offers the sign-in form). */
export function needsSignIn(e: UiError | null | undefined): boolean {
  return e?.code === "sign_in";
}
