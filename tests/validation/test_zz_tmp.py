from bench.samples import make_pdf
from signing.validation import validate, PolicyStore
from tests.conftest import shared_path
def test_tmp(ctx, demo_code):
    p = ctx.sealer.seal_pdf(demo_code, make_pdf(1), "B-B", age_policy=True)
    r = validate(p, trust_roots=[ctx.pki.root], offline=True, policy_store=PolicyStore([shared_path("corpus", "policies")]))
    s = r.signatures[0]
    print("RESULT", s.policy, [w.code + w.detail for w in s.warnings])
