/* lscript.c: a loss and an optimiser written in Lua.
 *
 * bp.loss{forward = f, backward = g}: a criterion (a backprop.loss whose
 * user value holds the functions) computed by Lua on tensors. A step with it
 * cannot be the engine's fused step, whose loss is a kernel: the binding
 * runs the forward, calls the Lua loss on tensors of the output and the
 * targets (kept in the user value, remade only when the batch size
 * changes), and hands its gradient to the net's backward and update.
 *
 * bp.optimizer(net, fn [, {lr =, weight_decay =, schedule =}]): an update
 * rule in Lua, called for every trainable tensor with views of the
 * parameter and its gradient (no copy; with weight_decay, torch.optim's L2
 * g + wd w in a tensor of the optimiser's), a state table of its own and
 * the learning rate of the step (the schedule's, computed by the engine's
 * bp_schedule_lr as the built-in optimisers' are, so the two compose to
 * the bit). It is Lua text, kept
 * here as show.c keeps bp.show: a dozen lines where C would need a
 * hundred; train_step and train_batch call its step after the gradients.
 *
 * net:fit and net:evaluate call both from inside the engine's loop through
 * bp_fit_config's hooks (bp_lua_fit_loss, bp_lua_fit_update), each
 * protected, so that an error in the script's functions stops the loop
 * rather than leaving it by a longjmp; the step is then the same sequence
 * as bp_lua_script_step's, and a fit gives the bits of the same steps done
 * with train_batch (tests/lua/test_script_fit.lua). */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_tensor.h"
#include "lbackprop.h"

#define SCRIPT_OPTIM_KEY "backprop.script_optimizer" /* registry: its metatable */

/* ------------------------------------------------------------------------ */
/* The loss                                                                  */

static const char *const loss_fields[] = {"forward", "backward", NULL};

int bp_lua_script_loss_new(lua_State *L) {
    bp_lua_check_options(L, 1, loss_fields, 0);
    lloss *c = lua_newuserdatauv(L, sizeof *c, 1);
    memset(c, 0, sizeof *c);
    c->script = 1;
    luaL_setmetatable(L, LOSS_TYPE);
    lua_createtable(L, 0, 4);
    for (int k = 0; loss_fields[k]; k++) {
        if (lua_getfield(L, 1, loss_fields[k]) != LUA_TFUNCTION)
            bp_lua_field_error(L, 1, loss_fields[k], "a function");
        lua_setfield(L, -2, loss_fields[k]);
    }
    lua_setiuservalue(L, -2, 1);
    return 1;
}

int bp_lua_is_script_loss(lua_State *L, int i) {
    const lloss *c = luaL_testudata(L, i, LOSS_TYPE);
    return c && c->script && c->kind >= 0;
}

/* The user value's tensor `field`, of B x W float64 numbers v (remade when
 * its shape changes), pushed. */
static void push_rows(lua_State *L, int uv, const char *field, const double *v, int B,
                      int W) {
    bp_tensor *t = NULL;
    if (lua_getfield(L, uv, field) != LUA_TNIL) t = bp_lua_check_tensor(L, -1);
    if (!t || t->dims[0] != (size_t)B || t->dims[1] != (size_t)W) {
        lua_pop(L, 1);
        t = bp_lua_push_tensor(L, BP_F64, 2, (size_t[]){(size_t)B, (size_t)W});
        lua_pushvalue(L, -1);
        lua_setfield(L, uv, field);
    }
    memcpy(t->data, v, sizeof(double) * (size_t)B * W);
}

/* Calls the loss at li's fn on (out, y) tensors of B rows; returns the loss
 * (forward) or copies dLoss/dout into dout (backward, B x O). */
static double call_loss(lua_State *L, int li, int backward, const double *out, int O,
                        const double *y, int k, int B, double *dout) {
    luaL_checkstack(L, 6, "a Lua loss");
    lua_getiuservalue(L, li, 1);
    int uv = lua_gettop(L);
    lua_getfield(L, uv, backward ? "backward" : "forward");
    push_rows(L, uv, "out", out, B, O);
    push_rows(L, uv, "y", y, B, k);
    lua_call(L, 2, 1);
    double v = 0;
    if (!backward) {
        int isnum;
        v = lua_tonumberx(L, -1, &isnum);
        if (!isnum)
            luaL_error(L, "the Lua loss's forward returned %s, expected a number",
                       luaL_typename(L, -1));
    } else {
        bp_tensor *g = bp_lua_is_tensor(L, -1) ? bp_lua_check_tensor(L, -1) : NULL;
        if (!g || g->n != (size_t)B * O || g->dims[0] != (size_t)B)
            luaL_error(L,
                       "the Lua loss's backward returned %s, expected dLoss/dout: a "
                       "tensor of shape {%d, %d}",
                       g ? "a tensor of another shape" : luaL_typename(L, -1), B, O);
        if (g->dtype == BP_F64) memcpy(dout, g->data, sizeof(double) * g->n);
        else for (size_t j = 0; j < g->n; j++) dout[j] = bp_tensor_get(g, j);
    }
    lua_settop(L, uv - 1);
    return v;
}

double bp_lua_script_step(lua_State *L, int ni, const void *x, bp_dtype xt, int B,
                          const double *y, int k, int li, bp_optim *opt, int oi,
                          double lr) {
    li = lua_absindex(L, li);
    lnet *n = bp_lua_check_lnet(L, ni);
    lloss *c = lua_touserdata(L, li);
    bp_net *net = n->net;
    bp_err e;
    const double *fwd = bp_net_forward_as(net, x, xt, B, &e);
    if (!fwd) luaL_error(L, "%s", e.msg);
    int O = bp_net_outputs(net);
    /* a copy: the Lua loss may run the net again */
    double *out = bp_lua_buf_reserve(L, &c->out, (size_t)B * O);
    memcpy(out, fwd, sizeof(double) * (size_t)B * O);
    double loss = call_loss(L, li, 0, out, O, y, k, B, NULL);
    double *dout = bp_lua_buf_reserve(L, &c->grad, (size_t)B * O);
    call_loss(L, li, 1, out, O, y, k, B, dout);
    bp_net_zero_grad(net);
    if (bp_net_backward(net, dout, &e)) luaL_error(L, "%s", e.msg);
    if (opt) {
        if (bp_optim_step(opt, net, &e)) luaL_error(L, "%s", e.msg);
    } else if (oi) {
        bp_lua_script_optim_step(L, oi, ni);
    } else if (bp_net_update(net, lr, &e)) {
        luaL_error(L, "%s", e.msg);
    }
    return loss;
}

/* Calls the function at -n-1 on the n values above it, protected: 0, or
 * -1 with its error's message in *e (popped either way). */
static int protected_call(lua_State *L, int n, bp_err *e) {
    if (lua_pcall(L, n, 0, 0) == LUA_OK) return 0;
    const char *msg = lua_tostring(L, -1);
    bp_err_set(e, "%s", msg ? msg : "an error object that is not a string");
    lua_pop(L, 1);
    return -1;
}

/* What bp_lua_fit_loss hands its protected call. */
typedef struct loss_args {
    const double *out, *y;
    double *loss, *dout;
    int O, k, B;
} loss_args;

static int fit_loss_protected(lua_State *L) {
    const loss_args *a = lua_touserdata(L, 2);
    *a->loss = call_loss(L, 1, 0, a->out, a->O, a->y, a->k, a->B, NULL);
    if (a->dout) call_loss(L, 1, 1, a->out, a->O, a->y, a->k, a->B, a->dout);
    return 0;
}

int bp_lua_fit_loss(void *ud, const double *out, int O, const double *y, int k, int B,
                    double *loss, double *dout, bp_err *e) {
    const bp_lua_fit_hooks *h = ud;
    lua_State *L = h->L;
    loss_args a = {out, y, loss, dout, O, k, B};
    luaL_checkstack(L, 3, "a Lua loss");
    lua_pushcfunction(L, fit_loss_protected);
    lua_pushvalue(L, h->li);
    lua_pushlightuserdata(L, &a);
    return protected_call(L, 2, e);
}

static int fit_update_protected(lua_State *L) {
    bp_lua_script_optim_step(L, 1, 2);
    return 0;
}

int bp_lua_fit_update(void *ud, bp_net *net, bp_err *e) {
    (void)net; /* the one at h->ni */
    const bp_lua_fit_hooks *h = ud;
    lua_State *L = h->L;
    luaL_checkstack(L, 3, "a Lua optimiser");
    lua_pushcfunction(L, fit_update_protected);
    lua_pushvalue(L, h->oi);
    lua_pushvalue(L, h->ni);
    return protected_call(L, 2, e);
}

/* loss:forward(out, y), loss:backward(out, y) of a Lua loss, on rows as
 * tables (as a built-in criterion's): B rows of O outputs, of k targets. */
int bp_lua_script_loss_call(lua_State *L, int backward) {
    lloss *c = luaL_checkudata(L, 1, LOSS_TYPE);
    int O = 1, k = 1, single, s2;
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    if (lua_rawgeti(L, 2, 1) == LUA_TTABLE) O = (int)luaL_len(L, -1);
    else O = (int)luaL_len(L, 2);
    if (lua_rawgeti(L, 3, 1) == LUA_TTABLE) k = (int)luaL_len(L, -1);
    else k = (int)luaL_len(L, 3);
    lua_pop(L, 2);
    int B = bp_lua_check_matrix(L, 2, O, &c->out, &single, "outputs");
    if (bp_lua_check_matrix(L, 3, k, &c->y, &s2, "targets") != B)
        luaL_argerror(L, 3, "targets and outputs have different rows");
    if (!backward) {
        lua_pushnumber(L, call_loss(L, 1, 0, c->out.v, O, c->y.v, k, B, NULL));
        return 1;
    }
    double *g = bp_lua_buf_reserve(L, &c->grad, (size_t)B * O);
    call_loss(L, 1, 1, c->out.v, O, c->y.v, k, B, g);
    bp_lua_push_matrix(L, g, B, O, single);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* The optimiser                                                             */

/* Its methods, and the constructor M.new(net, fn, opts). Views of a net's
 * tensors are made once per net and kept (weakly: they do not keep the net
 * alive); a state table per tensor name. */
static const char *OPTIM =
    "local M, C = ...\n"
    "M.__index = M\n"
    "M.__name = 'backprop.script_optimizer'\n"
    "local function bad(msg) error(\"bad argument #3 to 'optimizer' (\" .. msg .. ')', 4) end\n"
    "function M.new(net, fn, opts)\n"
    "  opts = opts or {}\n"
    "  if type(opts) ~= 'table' then error('bad argument #3 to \\'optimizer\\' (table expected, got ' .. type(opts) .. ')', 3) end\n"
    "  for k in pairs(opts) do\n"
    "    if k ~= 'lr' and k ~= 'weight_decay' and k ~= 'schedule' then\n"
    "      bad(\"unknown option '\" .. tostring(k) .. \"' (expected lr, weight_decay or schedule)\")\n"
    "    end\n"
    "  end\n"
    "  local lr, wd = opts.lr or 0.01, opts.weight_decay or 0\n"
    "  if type(lr) ~= 'number' or not (lr >= 0 and lr < math.huge) then\n"
    "    bad(\"field 'lr': a finite number >= 0 expected\")\n"
    "  end\n"
    "  if type(wd) ~= 'number' or not (wd >= 0 and wd < math.huge) then\n"
    "    bad(\"field 'weight_decay': a finite number >= 0 expected\")\n"
    "  end\n"
    "  local sched\n"
    "  if opts.schedule ~= nil then\n"
    "    local ok, s = pcall(C.schedule, opts.schedule)\n"
    "    if not ok then error('bad argument #3 to \\'optimizer\\' (' .. s .. ')', 3) end\n"
    "    sched = s\n"
    "  end\n"
    "  net:params_list()\n"
    "  return setmetatable({fn = fn, rate = lr, wd = wd, sched = sched, state = {}, count = 0,\n"
    "                       views = setmetatable({}, {__mode = 'k'})}, M)\n"
    "end\n"
    "function M:step(net)\n"
    "  local ps = self.views[net]\n"
    "  if not ps then\n"
    "    ps = {}\n"
    "    for _, p in ipairs(net:params_list()) do\n"
    "      if p.trainable then\n"
    "        ps[#ps + 1] = {name = p.name, w = net:tensor(p.name), g = net:grad_tensor(p.name)}\n"
    "      end\n"
    "    end\n"
    "    self.views[net] = ps\n"
    "  end\n"
    "  local lr = self.rate\n"
    "  if self.sched then\n"
    "    local ok, v = pcall(C.lr_at, self.sched, lr, self.count)\n"
    "    if not ok then error(v, 0) end\n"
    "    lr = v\n"
    "  end\n"
    "  self.count = self.count + 1\n"
    "  for _, p in ipairs(ps) do\n"
    "    local s = self.state[p.name]\n"
    "    if not s then s = {} self.state[p.name] = s end\n"
    "    local g = p.g\n"
    "    if self.wd ~= 0 then -- torch.optim's L2: g + wd w, the net's gradient untouched\n"
    "      p.d = p.d or g:clone()\n"
    "      g = p.w:mul(self.wd, p.d):add(g, p.d)\n"
    "    end\n"
    "    self.fn(p.w, g, s, lr)\n"
    "  end\n"
    "end\n"
    "function M:lr(v) if v then self.rate = v end return self.rate end\n"
    "function M:steps() return self.count end\n"
    "function M:reset() self.state, self.count = {}, 0 end\n";

/* C.schedule(t): a schedule table checked (loptim.c's checks) into a
 * userdata holding the bp_schedule. plateau follows a metric through the
 * engine's optimiser (bp_optim_schedule_step), which a Lua one is not. */
static int script_schedule(lua_State *L) {
    bp_schedule *s = lua_newuserdatauv(L, sizeof *s, 0);
    bp_lua_check_schedule(L, 1, s);
    if (s->kind == BP_SCHED_PLATEAU)
        return luaL_error(L, "option 'schedule': plateau is the built-in optimisers' only; an "
                             "optimiser written in Lua takes step, exponential, cosine or "
                             "onecycle");
    return 1;
}

/* C.lr_at(s, lr0, t): the lr of step t (from 0) for base lr0, as the
 * built-in optimisers' (bp_schedule_lr); onecycle refuses a step past its
 * cycle as they do. */
static int script_lr_at(lua_State *L) {
    const bp_schedule *s = lua_touserdata(L, 1);
    double lr0 = luaL_checknumber(L, 2);
    lua_Integer t = luaL_checkinteger(L, 3);
    if (s->kind == BP_SCHED_ONECYCLE && t > s->total_steps)
        return luaL_error(L, "onecycle schedule: tried to take step %I of a cycle of "
                             "total_steps %I", t + 1, (lua_Integer)s->total_steps);
    lua_pushnumber(L, bp_schedule_lr(s, lr0, (int64_t)t));
    return 1;
}

int bp_lua_script_optim_new(lua_State *L) {
    bp_lua_check_net(L, 1);
    lua_settop(L, 3);
    luaL_getmetatable(L, SCRIPT_OPTIM_KEY);
    lua_getfield(L, -1, "new");
    lua_insert(L, 1);
    lua_pop(L, 1);
    lua_call(L, 3, 1);
    return 1;
}

int bp_lua_is_script_optim(lua_State *L, int i) {
    if (!lua_getmetatable(L, i)) return 0;
    luaL_getmetatable(L, SCRIPT_OPTIM_KEY);
    int is = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return is;
}

void bp_lua_script_optim_step(lua_State *L, int oi, int ni) {
    oi = lua_absindex(L, oi), ni = lua_absindex(L, ni);
    lua_getfield(L, oi, "step");
    lua_pushvalue(L, oi);
    lua_pushvalue(L, ni);
    lua_call(L, 2, 0);
}

void bp_lua_open_script(lua_State *L) {
    luaL_newmetatable(L, SCRIPT_OPTIM_KEY);
    if (luaL_loadstring(L, OPTIM) != LUA_OK) lua_error(L);
    lua_insert(L, -2);
    lua_createtable(L, 0, 2); /* C: what the Lua text needs of the engine */
    lua_pushcfunction(L, script_schedule);
    lua_setfield(L, -2, "schedule");
    lua_pushcfunction(L, script_lr_at);
    lua_setfield(L, -2, "lr_at");
    lua_call(L, 2, 0);
}
