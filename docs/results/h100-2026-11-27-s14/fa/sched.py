import random, heapq
random.seed(7)
rows=[1.0 if random.random()<0.6 else random.randint(1,200)/200 for _ in range(1024)]
def sim(jobs, slots):
    h=[0.0]*slots; heapq.heapify(h)
    for j in jobs:
        t=heapq.heappop(h); heapq.heappush(h,t+j)
    return max(h)
for slots,name in [(1452,'scan_fwd_e 2 blk'),(264,'scan_bwd slice')]:
    if slots==1452:
        jobs=[r for r in sorted(rows,reverse=True) for _ in range(2)]
    else:
        jobs=[r for r in sorted(rows,reverse=True)[:256] for _ in range(8)]
    lb=max(sum(jobs)/slots,max(jobs))
    print(name,'LPT',round(sim(jobs,slots),3),'SPT',round(sim(sorted(jobs),slots),3),'random',round(sim(random.sample(jobs,len(jobs)),slots),3),'LB',round(lb,3))
print('--- scan_fwd_e bench batch, LPT, by slots')
jobs=[r for r in sorted(rows,reverse=True) for _ in range(2)]
for s in [1056,1188,1320,1452,1584,2048]:
    print(s, round(sim(jobs,s),3), 'LB', round(max(sum(jobs)/s,1),3))
