"""The second-factor RPC methods, for the auth service's table."""

from __future__ import annotations

from collections.abc import Mapping

from auth_app.mfa.enrolment import MfaEnrolment
from auth_app.mfa.factors import SecondFactor
from auth_app.mfa.second_step import SecondStep
from auth_app.signin import SignIn
from common.accounts.audit import Audit
from common.accounts.mfa_schemas import (
    MfaStateParams,
    MfaVerifyParams,
    RecoveryCodesParams,
    TotpConfirmParams,
    TotpDisableParams,
    TotpEnrolConfirmParams,
    TotpEnrolStartParams,
    TotpStartParams,
)
from common.accounts.sessions import SessionEnder
from common.rpc.server import Method
from common.worker import WorkerContext


def mfa_methods(
    ctx: WorkerContext, audit: Audit, ender: SessionEnder, signin: SignIn
) -> Mapping[str, Method]:
    factor = SecondFactor(ctx, audit)
    enrolment = MfaEnrolment(ctx, audit, ender, factor, signin)
    second_step = SecondStep(signin, factor, audit)
    return {
        "auth.mfa_state": Method(enrolment.state, MfaStateParams()),
        "auth.mfa_totp_start": Method(enrolment.start, TotpStartParams()),
        "auth.mfa_totp_enrol_start": Method(enrolment.start_for_enrolment, TotpEnrolStartParams()),
        "auth.mfa_totp_confirm": Method(enrolment.confirm, TotpConfirmParams()),
        "auth.mfa_totp_enrol_confirm": Method(
            enrolment.confirm_for_enrolment, TotpEnrolConfirmParams()
        ),
        "auth.mfa_totp_disable": Method(enrolment.disable, TotpDisableParams()),
        "auth.mfa_recovery_codes": Method(enrolment.regenerate, RecoveryCodesParams()),
        "auth.mfa_verify": Method(second_step.verify, MfaVerifyParams()),
    }
