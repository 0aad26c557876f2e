"""One self-contained HTML file: the report's data inline, small hand-written SVG plots and
sortable tables in plain JavaScript (no CDN, no library: works offline and stays ~1-2 MB; a
plotting library inlined would add 3.5 MB for a heatmap, a scatter plot and bars).

The page marks itself when it has drawn: ``<body data-rendered="ok" data-plots="N">``, and
collects script errors in ``data-errors`` / ``#script-errors`` (what the headless test reads).
"""

from __future__ import annotations

import html as _html
import json

HEAT_METRICS = ("premium", "bytes_per_token", "chars_per_token", "tokens_per_char", "nsl", "fertility", "pcw",
                "strr", "entropy", "renyi_efficiency", "cond_entropy_1", "utilization", "unk_share")


def view(report: dict) -> dict:
    names = [t["tokenizer"] for t in report["per_tokenizer"]]
    sets = [{"corpus": c["corpus"], "lang": c["lang"], "name": c["name"], "script": c["script"], "tag": c["tag"],
             "seg": c["segmentation"]} for c in report["corpora"]]
    index = {(s["corpus"], s["lang"]): k for k, s in enumerate(sets)}
    defs = report["metric_definitions"]
    metrics = {}
    present = [m for m in HEAT_METRICS if any(m in r for r in report["per_language"][:1])]
    for m in present:
        metrics[m] = {**defs.get(m, {}), "values": {n: [None] * len(sets) for n in names}}
    ci = {n: [None] * len(sets) for n in names}
    for r in report["per_language"]:
        k = index[(r["corpus"], r["lang"])]
        for m in present:
            metrics[m]["values"][r["tokenizer"]][k] = r.get(m)
        if r.get("premium_ci_low") is not None:
            ci[r["tokenizer"]][k] = [r["premium_ci_low"], r["premium_ci_high"]]
    gini = {}
    for p in report["parity"]:
        for n, g in p["tokenizers"].items():
            gini[n] = {"gini": g["gini"], "ci": g["gini_ci"], "corpus": p["corpus"], "pivot": p["pivot"]}
    toks = []
    info = {t["name"]: t for t in report["tokenizers"]}
    for t in report["per_tokenizer"]:
        a = info.get(t["tokenizer"], {}).get("audit") or {}
        toks.append({**t, "partial_utf8": a.get("partial_utf8"), "unreachable": a.get("unreachable"),
                     "undecodable": a.get("undecodable"),
                     "top_scripts": "; ".join(f"{k} {v}" for k, v in list((a.get("scripts") or {}).items())[:5])})
    from .tables import linguistic_rows

    return {
        "meta": {"version": report["tool"]["version"], "created": report["created"], "schema": report["schema"],
                 "schema_version": report["schema_version"], **{k: report["settings"][k] for k in
                                                                ("pivot", "baseline", "alpha", "n_boot", "ci")}},
        "names": names, "sets": sets, "metrics": metrics, "ci": ci, "gini": gini, "toks": toks,
        "examples": report["examples"], "overlap": report.get("overlap"), "linguistic": linguistic_rows(report),
        "problems": report["problems"], "defs": defs,
        "provenance": [{"name": t["name"], "source": t.get("source"), "format": t.get("format"),
                        "status": t.get("status"), "vocab_sha256": (t.get("vocab_sha256") or "")[:16],
                        "load_s": t.get("load_seconds")} for t in report["tokenizers"]],
        "timing": report["timing"],
    }


CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
header{background:#1d2a44;color:#fff;padding:14px 24px} header h1{margin:0;font-size:20px}
header .meta{opacity:.8;font-size:12px;margin-top:4px}
main{padding:8px 24px 40px;max-width:1500px}
section{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:12px 16px;margin:14px 0}
h2{font-size:16px;margin:4px 0 10px} .note{color:#5b6473;font-size:12px}
table{border-collapse:collapse;font-size:12px} th,td{padding:3px 7px;border-bottom:1px solid #eceef2;text-align:right;white-space:nowrap}
th{background:#f2f4f7;cursor:pointer;position:sticky;top:0;white-space:nowrap} th.sorted-asc::after{content:" \\25B2"}
th.sorted-desc::after{content:" \\25BC"} td.l,th.l{text-align:left}
.scroll{max-height:560px;overflow:auto;border:1px solid #eceef2}
.controls{margin:6px 0 10px;display:flex;gap:14px;align-items:center;flex-wrap:wrap}
.problems{background:#fff4e5;border-color:#f5c16c} #script-errors{display:none;background:#fde8e8;color:#9b1c1c;padding:8px}
.tok{display:inline;padding:1px 0;border-radius:3px;margin-right:1px;white-space:pre-wrap}
.tok.a{background:#dbe7fb}.tok.b{background:#fde3c8}.tok.c{background:#d9f2dd}.tok.d{background:#f1dcf5}
.tok.p{outline:1px dashed #b42318}
.ex{margin:8px 0 14px} .ex .row{display:grid;grid-template-columns:150px 1fr;gap:8px;margin:3px 0;align-items:start}
.ex .name{font-size:12px;color:#334} .ex .count{color:#667;font-size:11px}
svg text{font:11px system-ui,sans-serif} .legend{font-size:11px;color:#5b6473}
"""

JS = r"""
(function(){
const D = JSON.parse(document.getElementById('report-data').textContent);
const NS = 'http://www.w3.org/2000/svg';
function el(tag, attrs, kids){const e=document.createElement(tag);for(const k in (attrs||{})){if(k==='text')e.textContent=attrs[k];else e.setAttribute(k,attrs[k]);}(kids||[]).forEach(c=>e.appendChild(c));return e;}
function sv(tag, attrs){const e=document.createElementNS(NS,tag);for(const k in (attrs||{})){if(k==='text')e.textContent=attrs[k];else e.setAttribute(k,attrs[k]);}return e;}
function fmt(v,d){if(v===null||v===undefined||Number.isNaN(v))return '';if(typeof v!=='number')return String(v);if(d===undefined&&Number.isInteger(v)&&(Math.abs(v)>=2||v===0))return v.toLocaleString('en');const a=Math.abs(v);d=(d===undefined)?(a>=100?0:a>=10?1:a>=1?2:3):d;return v.toFixed(d);}
const STOPS=[[68,1,84],[59,82,139],[33,145,140],[94,201,98],[253,231,37]];
function color(t){t=Math.max(0,Math.min(1,t));const x=t*(STOPS.length-1),i=Math.min(Math.floor(x),STOPS.length-2),f=x-i;const a=STOPS[i],b=STOPS[i+1];return 'rgb('+a.map((v,j)=>Math.round(v+(b[j]-v)*f)).join(',')+')';}
function quantile(xs,q){if(!xs.length)return 0;const s=xs.slice().sort((a,b)=>a-b);return s[Math.min(s.length-1,Math.max(0,Math.floor(q*(s.length-1))))];}

// sortable table
function table(container, cols, rows){
  const t=el('table'), thead=el('thead'), tb=el('tbody'), hr=el('tr');
  let sortCol=null, asc=true;
  cols.forEach((c,ci)=>{const th=el('th',{class:c.left?'l':'',text:c.label||c.key,title:c.title||''});th.addEventListener('click',()=>{asc=(sortCol===ci)?!asc:(c.left?true:false);sortCol=ci;draw();});hr.appendChild(th);});
  thead.appendChild(hr);t.appendChild(thead);t.appendChild(tb);
  function draw(){
    let rs=rows.slice();
    if(sortCol!==null){const k=cols[sortCol].key;rs.sort((a,b)=>{const x=a[k],y=b[k];if(x===null||x===undefined)return 1;if(y===null||y===undefined)return -1;if(typeof x==='number'&&typeof y==='number')return asc?x-y:y-x;return asc?String(x).localeCompare(String(y)):String(y).localeCompare(String(x));});}
    Array.from(hr.children).forEach((th,i)=>{th.classList.remove('sorted-asc','sorted-desc');if(i===sortCol)th.classList.add(asc?'sorted-asc':'sorted-desc');});
    tb.innerHTML='';
    rs.forEach(r=>{const tr=el('tr');cols.forEach(c=>{const v=r[c.key];const td=el('td',{class:c.left?'l':''});td.textContent=(c.fmt?c.fmt(v,r):fmt(v));if(c.bg){const b=c.bg(v,r);if(b)td.style.background=b;}tr.appendChild(td);});tb.appendChild(tr);});
  }
  draw();container.appendChild(t);return {redraw:draw};
}

// summary
(function(){
  const c=document.getElementById('summary');
  table(c,[{key:'tokenizer',left:true},{key:'vocab_size',label:'vocab',fmt:v=>v==null?'':v.toLocaleString()},{key:'bytes_per_token',label:'bytes/token'},{key:'chars_per_token',label:'chars/token'},{key:'tokens_per_char',label:'tokens/char'},{key:'nsl',label:'NSL'},{key:'unk_share',label:'unk share'},{key:'fertility_mean',label:'fertility'},{key:'pcw_mean',label:'PCW'},{key:'premium_median',label:'median premium'},{key:'gini',label:'Gini'},{key:'utilization',label:'utilisation'},{key:'renyi_efficiency_mean',label:'Rényi eff.'},{key:'digit_policy',label:'digits',left:true},{key:'partial_utf8',label:'partial UTF-8'},{key:'unreachable'},{key:'undecodable'}],D.toks);
})();

// heatmap + per-language table
const heat={metric:(D.metrics.premium&&D.gini&&Object.keys(D.gini).length)?'premium':Object.keys(D.metrics)[0],filter:'',sortBy:null};
function heatmap(){
  const box=document.getElementById('heatmap');box.innerHTML='';
  const M=D.metrics[heat.metric];if(!M)return;
  document.getElementById('heat-def').textContent=(M.unit||'')+'; '+(M.aggregation||'')+(M.description?'; '+M.description:'');
  let idx=D.sets.map((s,i)=>i).filter(i=>{const s=D.sets[i];const q=heat.filter.toLowerCase();return !q||(s.lang+' '+s.name+' '+s.tag+' '+s.script+' '+s.corpus).toLowerCase().includes(q);});
  if(heat.sortBy){const v=M.values[heat.sortBy];idx.sort((a,b)=>((v[b]==null?-1e9:v[b])-(v[a]==null?-1e9:v[a])));}
  const vals=[];D.names.forEach(n=>idx.forEach(i=>{const v=M.values[n][i];if(v!=null&&isFinite(v))vals.push(v);}));
  const useLog=(heat.metric==='premium'||heat.metric==='nsl');
  const tr=v=>useLog?Math.log(Math.max(v,1e-9)):v;
  const lo=tr(quantile(vals,0.02)),hi=tr(quantile(vals,0.98));
  const cw=Math.max(56,Math.min(90,Math.floor(900/Math.max(1,D.names.length)))),ch=15,left=230,top=92;
  const W=left+cw*D.names.length+20,H=top+ch*idx.length+10;
  const s=sv('svg',{width:W,height:H,viewBox:'0 0 '+W+' '+H,class:'plot'});
  D.names.forEach((n,j)=>{const x=left+j*cw+cw/2;const t=sv('text',{x:x,y:top-8,transform:'rotate(-40 '+x+' '+(top-8)+')',text:n,style:'cursor:pointer;font-weight:'+(heat.sortBy===n?'bold':'normal')});t.addEventListener('click',()=>{heat.sortBy=(heat.sortBy===n?null:n);heatmap();});s.appendChild(t);});
  idx.forEach((i,r)=>{const y=top+r*ch;const st=D.sets[i];
    s.appendChild(sv('text',{x:left-6,y:y+11,'text-anchor':'end',text:(st.name||st.lang).slice(0,26)+' ('+st.lang+')'}));
    D.names.forEach((n,j)=>{const v=M.values[n][i];const x=left+j*cw;
      const rc=sv('rect',{x:x,y:y,width:cw-1,height:ch-1,fill:(v==null||!isFinite(v))?'#eee':color((tr(v)-lo)/((hi-lo)||1))});
      let tip=n+' / '+st.lang+' ('+st.name+'): '+fmt(v);const c=(heat.metric==='premium'&&D.ci[n])?D.ci[n][i]:null;if(c)tip+=' ['+fmt(c[0])+', '+fmt(c[1])+']';
      rc.appendChild(sv('title',{text:tip}));s.appendChild(rc);
      if(v!=null&&isFinite(v)){const t=(tr(v)-lo)/((hi-lo)||1);s.appendChild(sv('text',{x:x+cw/2,y:y+11,'text-anchor':'middle',fill:t>0.55?'#111':'#fff',text:fmt(v),style:'font-size:9px;pointer-events:none'}));}
    });});
  box.appendChild(s);
  document.getElementById('heat-count').textContent=idx.length+' of '+D.sets.length+' text sets; click a tokenizer name to sort by it';
  // the same data as a sortable table
  const tb=document.getElementById('lang-table');tb.innerHTML='';
  const rows=idx.map(i=>{const r={lang:D.sets[i].lang,name:D.sets[i].name,script:D.sets[i].script,corpus:D.sets[i].corpus,seg:D.sets[i].seg};D.names.forEach(n=>{r[n]=M.values[n][i];});return r;});
  table(tb,[{key:'lang',left:true},{key:'name',left:true},{key:'script',left:true},{key:'corpus',left:true},{key:'seg',label:'words',left:true}].concat(D.names.map(n=>({key:n,fmt:(v,r)=>{const i=idx[rows.indexOf(r)];const c=(heat.metric==='premium'&&D.ci[n])?D.ci[n][i]:null;return fmt(v)+(c?' ['+fmt(c[0])+', '+fmt(c[1])+']':'');}}))),rows);
}
(function(){
  const sel=document.getElementById('heat-metric');
  Object.keys(D.metrics).forEach(m=>{const o=el('option',{value:m,text:m});if(m===heat.metric)o.selected=true;sel.appendChild(o);});
  sel.addEventListener('change',()=>{heat.metric=sel.value;heatmap();});
  document.getElementById('heat-filter').addEventListener('input',e=>{heat.filter=e.target.value;heatmap();});
  heatmap();
})();

// vocabulary size vs compression
function scatter(){
  const box=document.getElementById('scatter');box.innerHTML='';
  const key=document.getElementById('scatter-y').value;
  const pts=D.toks.filter(t=>t.vocab_size&&t[key]!=null);
  const W=760,H=380,L=60,R=140,T=16,B=46;
  const s=sv('svg',{width:W,height:H,class:'plot'});
  if(!pts.length){box.appendChild(s);return;}
  const xs=pts.map(p=>Math.log10(p.vocab_size)),ys=pts.map(p=>p[key]);
  let x0=Math.min(...xs)-0.1,x1=Math.max(...xs)+0.1,y0=Math.min(0,Math.min(...ys)),y1=Math.max(...ys)*1.1||1;
  const X=v=>L+(v-x0)/(x1-x0)*(W-L-R),Y=v=>H-B-(v-y0)/(y1-y0)*(H-T-B);
  s.appendChild(sv('line',{x1:L,y1:H-B,x2:W-R,y2:H-B,stroke:'#888'}));s.appendChild(sv('line',{x1:L,y1:T,x2:L,y2:H-B,stroke:'#888'}));
  for(let e=Math.ceil(x0*4)/4;e<=x1;e+=0.25){const v=Math.round(Math.pow(10,e));s.appendChild(sv('line',{x1:X(e),y1:H-B,x2:X(e),y2:H-B+4,stroke:'#888'}));s.appendChild(sv('text',{x:X(e),y:H-B+16,'text-anchor':'middle',text:v>=1000?Math.round(v/1000)+'k':v}));}
  for(let k=0;k<=5;k++){const v=y0+(y1-y0)*k/5;s.appendChild(sv('line',{x1:L-4,y1:Y(v),x2:W-R,y2:Y(v),stroke:'#eee'}));s.appendChild(sv('text',{x:L-7,y:Y(v)+4,'text-anchor':'end',text:fmt(v)}));}
  s.appendChild(sv('text',{x:(L+W-R)/2,y:H-8,'text-anchor':'middle',text:'vocabulary size (log scale)'}));
  s.appendChild(sv('text',{x:14,y:(T+H-B)/2,transform:'rotate(-90 14 '+((T+H-B)/2)+')','text-anchor':'middle',text:key}));
  const placed=[];
  pts.forEach((p,i)=>{const c=sv('circle',{cx:X(xs[i]),cy:Y(ys[i]),r:6,fill:color(i/Math.max(1,pts.length-1)),stroke:'#222'});c.appendChild(sv('title',{text:p.tokenizer+': vocab '+p.vocab_size+', '+key+' '+fmt(ys[i])}));s.appendChild(c);
    let lx=X(xs[i])+9,ly=Y(ys[i])+4;while(placed.some(q=>Math.abs(q[0]-lx)<90&&Math.abs(q[1]-ly)<12))ly+=12;placed.push([lx,ly]);
    s.appendChild(sv('text',{x:lx,y:ly,text:p.tokenizer}));});
  box.appendChild(s);
}
(function(){const sel=document.getElementById('scatter-y');['bytes_per_token','chars_per_token','tokens_per_char','nsl','fertility_mean','premium_median','gini','utilization'].forEach(k=>sel.appendChild(el('option',{value:k,text:k})));sel.addEventListener('change',scatter);scatter();})();

// Gini with confidence intervals
(function(){
  const box=document.getElementById('gini');const names=Object.keys(D.gini);
  if(!names.length){box.textContent='No aligned corpus in this report.';return;}
  const W=760,rowH=24,L=130,R=60,H=names.length*rowH+40;const s=sv('svg',{width:W,height:H,class:'plot'});
  const mx=Math.max(...names.map(n=>D.gini[n].ci[1]||D.gini[n].gini))*1.1||1;const X=v=>L+v/mx*(W-L-R);
  names.forEach((n,i)=>{const g=D.gini[n],y=10+i*rowH;s.appendChild(sv('text',{x:L-6,y:y+14,'text-anchor':'end',text:n}));
    const b=sv('rect',{x:L,y:y+3,width:Math.max(1,X(g.gini)-L),height:rowH-8,fill:color(0.35+0.5*i/Math.max(1,names.length))});b.appendChild(sv('title',{text:n+' Gini '+fmt(g.gini)+' ['+fmt(g.ci[0])+', '+fmt(g.ci[1])+']'}));s.appendChild(b);
    s.appendChild(sv('line',{x1:X(g.ci[0]),x2:X(g.ci[1]),y1:y+rowH/2,y2:y+rowH/2,stroke:'#111','stroke-width':1.5}));
    s.appendChild(sv('text',{x:X(g.ci[1])+5,y:y+14,text:fmt(g.gini)}));});
  s.appendChild(sv('text',{x:L,y:H-8,text:'Gini over languages (0 = parity); whiskers: bootstrap CI over aligned units'}));
  box.appendChild(s);
})();

// examples with token boundaries
(function(){
  const box=document.getElementById('examples');
  D.examples.forEach(ex=>{const d=el('div',{class:'ex'});d.appendChild(el('div',{text:ex.name+' ('+ex.lang+', '+ex.script+')',style:'font-weight:600'}));
    Object.keys(ex.tokenizers).forEach(n=>{const pieces=ex.tokenizers[n];const row=el('div',{class:'row'});const ntok=pieces.reduce((a,p)=>a+p.n,0);
      row.appendChild(el('div',{class:'name'},[el('span',{text:n}),el('br'),el('span',{class:'count',text:ntok+' tokens'})]));
      const line=el('div',{dir:'auto'});pieces.forEach((p,k)=>{const sp=el('span',{class:'tok '+'abcd'[k%4]+(p.n>1?' p':''),title:p.n>1?p.n+' tokens inside one character (partial UTF-8)':'token '+(k+1)});sp.textContent=p.t;line.appendChild(sp);});
      row.appendChild(line);d.appendChild(row);});
    box.appendChild(d);});
  if(!D.examples.length)box.textContent='No examples.';
})();

// linguistic, overlap, definitions, provenance
(function(){
  const lb=document.getElementById('linguistic');
  if(D.linguistic.length){table(lb,Object.keys(D.linguistic[0]).map(k=>({key:k,left:['tokenizer','corpus','lang','lexicons'].includes(k)})),D.linguistic);}else{lb.textContent='Not computed (use --linguistic, or report 20 text sets or fewer).';}
  const ob=document.getElementById('overlap');
  if(D.overlap){const rows=D.overlap.tokenizers.map((a,i)=>{const r={tokenizer:a};D.overlap.tokenizers.forEach((b,j)=>{r[b]=D.overlap.jaccard[i][j];});return r;});
    table(ob,[{key:'tokenizer',left:true}].concat(D.overlap.tokenizers.map(b=>({key:b,bg:v=>v==null?null:color(v).replace('rgb','rgba').replace(')',',0.35)')}))),rows);}else{ob.textContent='One tokenizer: no overlap.';}
  table(document.getElementById('defs'),[{key:'metric',left:true},{key:'unit',left:true},{key:'aggregation',left:true},{key:'description',left:true}],Object.keys(D.defs).map(k=>Object.assign({metric:k},D.defs[k])));
  table(document.getElementById('provenance'),[{key:'name',left:true},{key:'source',left:true},{key:'format',left:true},{key:'status',left:true},{key:'vocab_sha256',left:true},{key:'load_s',label:'load s'}],D.provenance);
})();
})();
"""

FOOT = r"""
(function(){
  const plots=Array.from(document.querySelectorAll('svg.plot')).filter(s=>s.childElementCount>0).length;
  document.body.setAttribute('data-plots',String(plots));
  if(window.__errors.length){const b=document.getElementById('script-errors');b.style.display='block';b.textContent='Script errors: '+window.__errors.join(' | ');document.body.setAttribute('data-errors',String(window.__errors.length));}
  else{document.body.setAttribute('data-errors','0');document.body.setAttribute('data-rendered','ok');}
})();
"""


def render(report: dict) -> str:
    v = view(report)
    data = json.dumps(v, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # inside <script>, "</script" or "<!--" in a name would end or bend the element: no "<" at all
    data = data.replace("<", "\\u003c")
    m = v["meta"]
    esc = _html.escape
    problems = ""
    if report["problems"]:
        items = "".join(f"<li><code>{esc(p['where'])}</code>: {esc(p['problem'])}</li>" for p in report["problems"])
        problems = f'<section class="problems"><h2>Problems with the inputs</h2><ul>{items}</ul></section>'
    n_sets = len(report["corpora"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tokkit quality report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script>window.__errors=[];window.addEventListener('error',function(e){{window.__errors.push(String(e.message||e));}});</script>
<style>{CSS}</style></head>
<body>
<header><h1>Tokenizer quality report</h1>
<div class="meta">tokkit {esc(str(m['version']))} &middot; {esc(m['schema'])} {esc(m['schema_version'])} &middot; {esc(m['created'])}
&middot; {len(report['per_tokenizer'])} tokenizers &middot; {n_sets} text sets &middot; pivot {esc(str(m['pivot']))}
&middot; baseline {esc(str(m['baseline']))} &middot; Rényi &alpha; = {esc(str(m['alpha']))}
&middot; {esc(str(m['n_boot']))} bootstrap resamples</div></header>
<main>
<div id="script-errors"></div>
{problems}
<section><h2>Tokenizers</h2><div class="note">Pooled over all texts (ratio of sums); fertility, PCW and Rényi efficiency are means over text sets; premium median over languages. Click a column to sort.</div><div class="scroll" id="summary"></div></section>
<section><h2>Languages &times; tokenizers</h2>
<div class="controls"><label>metric <select id="heat-metric"></select></label><label>filter <input id="heat-filter" placeholder="language, script, corpus"></label><span class="legend" id="heat-count"></span></div>
<div class="note" id="heat-def"></div>
<div class="scroll" id="heatmap"></div>
<h2 style="margin-top:14px">Same data as a table</h2><div class="scroll" id="lang-table"></div></section>
<section><h2>Vocabulary size vs compression</h2><div class="controls"><label>y <select id="scatter-y"></select></label></div><div id="scatter"></div></section>
<section><h2>Fairness across languages</h2><div id="gini"></div></section>
<section><h2>Example sentences with token boundaries</h2><div class="note">Alternating colours mark tokens; a dashed outline joins tokens that cut a character (partial UTF-8).</div><div id="examples"></div></section>
<section><h2>Linguistic alignment</h2><div class="scroll" id="linguistic"></div></section>
<section><h2>Vocabulary overlap (Jaccard on token bytes)</h2><div class="scroll" id="overlap"></div></section>
<section><h2>Metric definitions</h2><div class="scroll" id="defs"></div></section>
<section><h2>Provenance</h2><div class="scroll" id="provenance"></div></section>
</main>
<script type="application/json" id="report-data">{data}</script>
<script>
try {{
{JS}
}} catch (e) {{ window.__errors.push(String(e && e.stack || e)); }}
</script>
<script>{FOOT}</script>
</body></html>
"""
