// A club board's app, typed from the merged OpenAPI document: log in, list clubs, read a
// club's members, record a repayment with an Idempotency-Key (a retry answers the first
// result), and sync the members with changed_since. Prints what it saw as JSON.
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Token = components["schemas"]["TokenResponse"];
type Member = components["schemas"]["MemberPublic"];

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

async function logIn(baseUrl: string): Promise<string> {
  const form = new URLSearchParams({
    grant_type: "password",
    username: env("ISHC_USERNAME"),
    password: env("ISHC_PASSWORD"),
  });
  const answer = await fetch(`${baseUrl}/auth/token`, { method: "POST", body: form });
  if (!answer.ok) throw new Error(`login: ${answer.status}`);
  const token = (await answer.json()) as Token;
  return token.access_token;
}

async function main(): Promise<void> {
  const baseUrl = env("ISHC_BASE_URL");
  const clubId = Number(env("ISHC_CLUB_ID"));
  const loanId = Number(env("ISHC_LOAN_ID"));
  const token = await logIn(baseUrl);
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

  const clubs = await api.GET("/api/v1/clubs", { params: { query: { limit: 10 } } });
  if (!clubs.data) throw new Error(`clubs: ${clubs.response.status}`);

  const members = await api.GET("/api/v1/clubs/{club_id}/members", {
    params: { path: { club_id: clubId }, query: { limit: 100 } },
  });
  if (!members.data) throw new Error(`members: ${members.response.status}`);
  const syncToken = members.data.sync_token;
  if (!syncToken) throw new Error("the members list answered no sync_token");

  const key = crypto.randomUUID();
  const repay = () =>
    api.POST("/api/v1/loans/{loan_id}/repayments", {
      params: { path: { loan_id: loanId }, header: { "idempotency-key": key } },
      body: { amount: 500_000, paid_on: "2024-02-15", reference: "meeting" },
    });
  const first = await repay();
  const retried = await repay();
  if (!first.data || !retried.data) throw new Error(`repayment: ${first.response.status}`);

  const changed = await api.PATCH("/api/v1/members/{member_id}", {
    params: { path: { member_id: Number(env("ISHC_MEMBER_ID")) } },
    body: { phone: "0912345678" },
  });
  if (!changed.data) throw new Error(`member change: ${changed.response.status}`);
  const sync = await api.GET("/api/v1/clubs/{club_id}/members", {
    params: { path: { club_id: clubId }, query: { changed_since: syncToken } },
  });
  if (!sync.data) throw new Error(`sync: ${sync.response.status}`);
  const synced: Member[] = sync.data.items;

  console.log(
    JSON.stringify({
      clubs: clubs.data.total,
      members: members.data.items.map((member: Member) => member.id),
      repayment: first.data.id,
      retried: retried.data.id,
      replayed: retried.response.headers.get("Idempotent-Replayed"),
      synced: synced.map((member) => member.id),
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
