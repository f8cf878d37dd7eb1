import random, heapq
def rng_rows(seed):
    random.seed(seed)
    return sorted([200 if random.random()<0.6 else random.randint(1,200) for _ in range(1024)], reverse=True)
def sim(jobs, slots):
    h=[0.0]*slots; heapq.heapify(h)
    for j in jobs:
        t=heapq.heappop(h); heapq.heappush(h,t+j)
    return max(h)
def run(rows, sizes, slots, c=8, disp=3):
    t=0; b=0
    for s in sizes:
        jobs=[r+c for r in rows[b:b+s] for _ in range(8)]
        b+=s
        t+=sim(jobs,slots)+disp
    return t
for seed in [7,8,9]:
    rows=rng_rows(seed)
    for slots,name in [(396,'blk0 3/SM'),(528,'blk1 4/SM')]:
        res=[]
        for sizes in [[256]*4,[246]*4+[40],[248]*4+[32],[198]*5+[34],[296,296,296,136],[344,344,336],[512,512]]:
            res.append((str(sizes[0])+'x'+str(len(sizes)), round(run(rows,sizes,slots)/(run(rows,[256]*4,slots)),3)))
        print(seed,name,res)
print('--- per-slice model (blk0, c=8) vs measured 571 570 518 242; blk1 385 386 347 162')
rows=rng_rows(7)
for slots in [396,528]:
    out=[]
    for i in range(4):
        jobs=[r+8 for r in rows[256*i:256*(i+1)] for _ in range(8)]
        out.append(round(sim(jobs,slots)))
    print(slots,out,[round(o/out[0],3) for o in out])
for sizes in [[198]*5+[34],[246]*4+[40]]:
  for slots in [396,528]:
    b=0; out=[]
    for s in sizes:
        jobs=[r+8 for r in rows[b:b+s] for _ in range(8)]; b+=s
        out.append(round(sim(jobs,slots)))
    print(sizes[0],slots,out,sum(out))
