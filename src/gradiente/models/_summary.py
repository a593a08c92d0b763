"""The text of ``model.summary()``: Keras 3's table, drawn with box characters."""

_MIN_WIDTHS = (31, 22, 13)


def _human_bytes(n):
    units = ["B", "KB", "MB", "GB", "TB"]
    value = float(n)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            return f"{value:.2f} {unit}"
        value /= 1024
    return f"{value:.2f} TB"  # pragma: no cover


def _shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def summary_text(model):
    rows = [(f"{layer.name} ({type(layer).__name__})", _shape(layer.output_shape),
             f"{layer.count_params():,}") for layer in model.layers]
    header = ("Layer (type)", "Output Shape", "Param #")
    widths = [max([_MIN_WIDTHS[i], len(header[i])] + [len(r[i]) for r in rows])
              for i in range(3)]

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values, edge):
        parts = [f" {values[0]:<{widths[0]}} ", f" {values[1]:<{widths[1]}} ",
                 f" {values[2]:>{widths[2]}} "]
        return edge + edge.join(parts) + edge

    out = [f'Model: "{model.name}"', line("┏", "┳", "┓", "━"), cells(header, "┃"),
           line("┡", "╇", "┩", "━")]
    for i, row in enumerate(rows):
        if i:
            out.append(line("├", "┼", "┤", "─"))
        out.append(cells(row, "│"))
    out.append(line("└", "┴", "┘", "─"))
    itemsize = 8 if model.dtype == "float64" else 4
    trainable = sum(w.size for w in model.trainable_weights)
    frozen = sum(w.size for w in model.non_trainable_weights)
    opt_params = 0
    if model.optimizer is not None and model.optimizer.iterations > 0:
        opt_params = model.optimizer._n_state_params(trainable)
    total = trainable + frozen + opt_params
    out.append(f" Total params: {total:,} ({_human_bytes(total * itemsize)})")
    out.append(f" Trainable params: {trainable:,} ({_human_bytes(trainable * itemsize)})")
    out.append(f" Non-trainable params: {frozen:,} ({_human_bytes(frozen * itemsize)})")
    if opt_params:
        out.append(f" Optimizer params: {opt_params:,} ({_human_bytes(opt_params * itemsize)})")
    return "\n".join(out)
