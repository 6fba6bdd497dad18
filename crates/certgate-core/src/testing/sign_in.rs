//! Sign-ins in memory: the flows in progress and the sign-in log.

use crate::directory::fold_case;
use certgate_pki::UnixTime;

use super::{purge_oldest, MemoryStore};
use crate::login_flow::{FlowStep, LoginFlow, LoginFlowStore};
use crate::signin::{SignInLog, SignInQuery, SignInRecord};
use crate::store::{StoreError, StoreResult};

impl LoginFlowStore for MemoryStore {
    async fn insert_flow(&self, flow: &LoginFlow) -> StoreResult<()> {
        let mut state = self.state();
        if state.login_flows.contains_key(&flow.id_hash) {
            return Err(StoreError::Conflict {
                what: "a login flow".into(),
            });
        }
        // As the SQL store: a new flow is stored without an identity; only a step adds one.
        let flow = LoginFlow {
            identity: None,
            ..flow.clone()
        };
        state.login_flows.insert(flow.id_hash.clone(), flow);
        Ok(())
    }

    async fn flow(&self, id_hash: &[u8]) -> StoreResult<Option<LoginFlow>> {
        Ok(self.state().login_flows.get(id_hash).cloned())
    }

    async fn advance_flow(&self, flow: &LoginFlow, expected: FlowStep) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(stored) = state
            .login_flows
            .get_mut(&flow.id_hash)
            .filter(|stored| stored.step == expected)
        else {
            return Ok(false);
        };
        // The ID, the request and the flow's lifetime stay as they were.
        stored.step = flow.step;
        stored.identity = flow.identity.clone();
        stored.correlation_id = flow.correlation_id.clone();
        stored.browser_hash = flow.browser_hash.clone();
        Ok(true)
    }

    async fn purge_flows(&self, now: UnixTime) -> StoreResult<u64> {
        let mut state = self.state();
        let before = state.login_flows.len();
        state.login_flows.retain(|_, flow| flow.expires_at >= now);
        Ok((before - state.login_flows.len()) as u64)
    }
}

impl SignInLog for MemoryStore {
    async fn append_signin(&self, record: &SignInRecord) -> StoreResult<()> {
        self.state().signins.push(record.clone());
        Ok(())
    }

    async fn append_signins(&self, records: &[SignInRecord]) -> StoreResult<()> {
        self.state().signins.extend_from_slice(records);
        Ok(())
    }

    async fn signins(&self, query: &SignInQuery) -> StoreResult<Vec<SignInRecord>> {
        let user = query.user.as_deref().map(fold_case);
        let limit = usize::try_from(query.limit.max(0)).unwrap_or(usize::MAX);
        Ok(self
            .state()
            .signins
            .iter()
            .rev()
            .filter(|record| {
                user.as_ref().is_none_or(|user| {
                    record
                        .user
                        .as_deref()
                        .is_some_and(|theirs| fold_case(theirs) == *user)
                }) && query.result.is_none_or(|result| record.result == result)
                    && query
                        .reason_code
                        .as_ref()
                        .is_none_or(|code| record.reason_code == *code)
                    && query.since.is_none_or(|since| record.at >= since)
            })
            .take(limit)
            .cloned()
            .collect())
    }

    async fn purge_signins(&self, before: UnixTime, max_rows: u32) -> StoreResult<u64> {
        Ok(purge_oldest(
            &mut self.state().signins,
            max_rows,
            |record| record.at < before,
        ))
    }
}
