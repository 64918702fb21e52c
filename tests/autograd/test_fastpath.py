"""The eager fast paths (node layouts planned per input kinds, the inline backward walk, the cached
implicit ones gradient) keep torch's semantics: run as snippets under torch and funcgrad and compared."""
import pytest
from difftest import assert_same

SNIPPETS = {
    # the same op on inputs of different kinds (leaf / non-leaf / no grad / number / integer) in one process
    "layouts_by_input_kind": [
        "a = torch.tensor([1., 2.], requires_grad=True)\nb = torch.tensor([3., 4.])\nc = a * 2\n"
        "outs = [a * b, b * a, a * c, c * c, b * 2, 2 * a, a * torch.tensor([1, 2]), c * 3.5]\n"
        "for o in outs:\n    print(o.grad_fn, [(type(n).__name__ if n is not None else None, k) "
        "for n, k in getattr(o.grad_fn, 'next_functions', ())])\n"
        "sum(o.sum() for o in outs if o.requires_grad).backward()\na.grad"],
    "grad_fn_identity_and_saved": [
        "x = torch.tensor([0.5, -1.], requires_grad=True)\ny = x.tanh()\nz = y * x\n"
        "print(y.grad_fn is y.grad_fn, z.grad_fn.next_functions[0][0] is y.grad_fn)\n"
        "print(y.grad_fn._saved_result, z.grad_fn._saved_self, z.grad_fn._saved_other)"],
    "saved_result_modified": [
        "x = torch.tensor([0.5, -1.], requires_grad=True)\ny = x.tanh()\nw = y * 2\ny.mul_(3)\nw.sum().backward()"],
    "saved_result_modified_used": [
        "x = torch.tensor([0.5, -1.], requires_grad=True)\ny = x.tanh()\ny.mul_(3)\ny.sum().backward()"],
    "hooks_in_chain": [
        "x = torch.tensor([1., 2.], requires_grad=True)\ny = x * 3\nz = (y + 1).tanh()\n"
        "y.register_hook(lambda g: print('y grad', g))\nz.grad_fn.register_prehook(lambda g: print('pre', g))\n"
        "z.sum().backward()\nx.grad"],
    "retain_grad_in_chain": [
        "x = torch.tensor([1., 2.], requires_grad=True)\ny = x * 3\ny.retain_grad()\n(y * y).sum().backward()\n"
        "y.grad, x.grad"],
    "freed_then_backward": [
        "x = torch.tensor([1., 2.], requires_grad=True)\ny = (x.tanh() * 2).sum()\ny.backward()\ny.backward()"],
    "implicit_grad_edited_by_hook": [
        "x = torch.tensor(2., requires_grad=True)\nfor i in range(3):\n    l = x * x\n"
        "    l.register_hook(lambda g: g.mul_(10))\n    l.backward()\n    print(x.grad)\n"
        "(x * 1).backward()\nx.grad"],
    "implicit_grad_shapes": [
        "x = torch.ones(1, 1, requires_grad=True)\n(x * 2).backward()\ny = torch.ones(1, dtype=torch.float64, "
        "requires_grad=True)\n(y * 2).backward()\nx.grad, y.grad"],
    "chain_grad_values": [
        "x = torch.tensor([0.1, -0.2], requires_grad=True)\ny = x\nfor i in range(30):\n"
        "    y = torch.tanh(y * 1.0001 + 0.001)\ny.sum().backward()\nx.grad"],
    "no_grad_and_int_inputs": [
        "x = torch.tensor([1., 2.], requires_grad=True)\nwith torch.no_grad():\n    y = x * 2\n"
        "z = x + torch.tensor([1, 2])\nprint(y.grad_fn, z.grad_fn)\nz.sum().backward()\nx.grad"],
}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_fastpath_matches_torch(name):
    assert_same(SNIPPETS[name])
