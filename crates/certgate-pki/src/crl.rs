// TEMPORARY STUB (not committed)
use crate::error::Reason;
pub struct Crl;
impl Crl {
    pub fn from_der(_d: Vec<u8>) -> Result<Crl, Reason> {
        Ok(Crl)
    }
}
