import math, time, torch
from torch.distributions import Independent, Normal
torch.set_num_threads(1)
def information_terms(q, chunk=100):
    z = q.sample()
    n = len(z)
    terms = []
    for start in range(0, n, chunk):
        log_q = q.log_prob(z[start:start+chunk].unsqueeze(1))
        own = log_q.diagonal(offset=start)
        terms.append(own - (log_q.logsumexp(1) - math.log(n)))
    return torch.cat(terms)
torch.manual_seed(0)
for n, s in [(10000, 0.5), (10000, 0.1), (2000, 0.5), (10000, 2.0)]:
    x = torch.randn(n, 1)
    q = Independent(Normal(x, s), 1)
    t = information_terms(q)
    print(n, s, "est", t.mean().item(), "se", (t.std()/math.sqrt(n)).item(), "exact", 0.5*math.log(1+1/s**2))
q = Independent(Normal(torch.randn(10000, 50), torch.rand(10000, 50)+0.1), 1)
t0=time.time(); information_terms(q); print("time 10000x50", time.time()-t0)
q = Independent(Normal(torch.zeros(100, 3) + 0.3, torch.ones(100, 3)), 1)
print(information_terms(q).abs().max())
