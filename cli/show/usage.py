"""Each command's help, as `wxb COMMAND --help` shows it: what it does, its examples (each `$ ` line runs as it
is, in any folder, and is executed by tests/test_help_examples.py), read by cli/app.py."""

HELP = {
    "forward": """\
Compute f = W·X ⊕ b (the bias broadcast over W·X), or any expression given with -e.

[bold]Examples[/bold] (each runs as it is, in any folder):

  $ wxb forward -X "1 2; 3 4" -b "5; 6"
      f = X ⊕ b (W = I when -W is absent): 6,7 / 9,10
  $ wxb forward -W "1 0; 0 2" -X "1 2; 3 4" -b "1; 1"
      f = W·X ⊕ b: 2,3 / 7,9
  $ wxb forward -e "relu(W @ X + b)" W="1 -1; 0 1" X="1 2; 3 4" b="0; 0"
      any layer over named operands: 0,0 / 3,4
  $ echo "1 2; 3 4" | wxb forward -X - -b "5; 6" -f csv
      X from standard input: 6,7 / 9,10
  $ wxb forward -X "1 2; 3 4" -b "5; 6" -o f.npy
  $ wxb forward -X f.npy -b "-6; -9" -f json
      f as .npy (format from the suffix), read back: [[0.0, 1.0], [0.0, 1.0]]""",
    "backward": """\
Backpropagate an upstream gradient G = ∂L/∂f to dL/db (and dL/dW, dL/dX, or any operand of -e).

[bold]Examples[/bold] (each runs as it is, in any folder):

  $ wxb backward -X "1 2; 3 4" -b "5; 6"
      L = Σ f, so G = 1 and dL/db = G·1: 2 / 2
  $ wxb backward -X "1 2; 3 4" -b "5; 6" -G "1 0; 0 1" --wrt all -f json
      your own upstream G; every gradient, keyed dX and db
  $ wxb backward -X "1 2; 3 4" -b "5; 6" --loss mse -T "5 7; 9 10"
      G = 2(f − T)/N from a mean squared error; dL/db: 0.5 / 0
  $ wxb backward -e "tanh(X + b)" X="0 0; 0 0" b="0; 0" --wrt b
      through a layer, where tanh′(0) = 1; dL/db: 2 / 2
  $ wxb backward -X "1 2; 3 4" -b "5; 6" -o db.npy
      the gradient as .npy, written atomically""",
    "jvp": """\
Forward mode: the directional derivative df = J·v of f along tangents of its operands, f's shape, exact.

[bold]Examples[/bold] (each runs as it is, in any folder):

  $ wxb jvp -X "1 2; 3 4" -b "5; 6" --tangent b="1; 0"
      moving b along (1, 0) moves the first row of f: 1,1 / 0,0
  $ wxb jvp -e "W @ X" W="1 0; 0 1" X="1 2; 3 4" --tangent W="0 1; 0 0"
      df = dW·X: 3,4 / 0,0
  $ wxb jvp -e "x.T @ A @ x" x="1; 2" A="1 0; 0 1" --tangent x="0.5; 0"
      df = vᵀ(A + Aᵀ)x: 1
  $ wxb jvp -e "relu(X)" X="0 1; -1 2" --tangent X="1 1; 1 1" -f json
      f and df as one record; at the kink relu′(0) = 0, as backward takes it""",
    "jacobian": """\
Show the Jacobian of f in blocks: ∂f[:,k]/∂b = I for every column k, its Kronecker form and a spy plot.

[bold]Examples[/bold] (each runs as it is, in any folder):

  $ wxb jacobian -X "1 2; 3 4" -b "5; 6"
      ∂f[:,k]/∂b = I₂ for both columns k, the Kronecker form, a spy plot
  $ wxb jacobian -W "1 2; 3 4" -X "1 0; 0 1" -b "5; 6" --wrt W
      ∂vec f/∂vec W = Xᵀ ⊗ I₂, and its blocks side by side
  $ wxb jacobian -e "relu(W @ X)" W="1 -1; 0 1" X="1 2; 3 4" --wrt X
      the rows relu′ zeroes: diag(vec relu′(z))·(I₂ ⊗ W)
  $ wxb jacobian -X "1 2; 3 4" -b "5; 6" --block 1 -f csv
      one block as data: 1,0 / 0,1
  $ wxb jacobian -X "1 2; 3 4" -b "5; 6" --dense -f csv
      ∂vec f/∂b as one 4×2 matrix (--limit guards its size)""",
    "hessian": """\
The second derivatives of a scalar L (f with one entry, or the --loss): H·v, H and its structure, exact.

[bold]Examples[/bold] (each runs as it is, in any folder):

  $ wxb hessian -e "x.T @ A @ x" x="1; 2" A="1 2; 0 1"
      a quadratic form: ∂²L/∂x² = A + A.T, the same at every point
  $ wxb hessian -e "sum((W @ X) ** 2)" W="1 0; 0 1" X="1 0; 0 1" --wrt W
      least squares in W: H = 2 · (X @ X.T) ⊗ I₂, shown as a 4 × 4 matrix
  $ wxb hessian -e "sum(W ** 2)" W="1 2; 3 4" --vector W="1 0; 0 0"
      H·v without forming H: 2,0 / 0,0
  $ wxb hessian -e "x.T @ A @ x" x="1; 2" A="1 0; 0 1" --eig
      the curvature: eigenvalues 2 and 2, positive definite, condition 1
  $ wxb hessian -e "sum((W + b) ** 2)" W="1 0; 0 1" b="0; 0" --wrt W,b -f json
      several operands: the blocks keyed W,W W,b b,W b,b""",
    "check": """\
Compare the analytic gradients of L with central finite differences; exit 1 if any disagree. L is Σ G ⊙ f
for -G, else the --loss (default sum: L = Σ f), against -T for mse; the check says which.

[bold]Examples[/bold] (each runs as it is, in any folder):

  $ wxb check -X "1 2; 3 4" -b "5; 6"
      the seed's gradients against finite differences: exit 0, every row ✓
  $ wxb check -e "tanh(W @ X + b)" W="1 2; 3 4" X="1 0; 0 1" b="0; 0"
      a layer: every operand (--wrt picks some)
  $ wxb check -e "logdet(A)" A="2 1; 1 3"
      a matrix function: d log|det A| = tr(A⁻¹·dA)
  $ wxb check -X "1 2; 3 4" -b "5; 6" --loss mse -T "5 7; 9 10" -f json
      another loss, the verdict as data (exit 1 if any gradient disagrees)
  $ wxb check -e "x.T @ A @ x" -c "dL/dx = 2 * A @ x" x=n A=nxn
      your own gradient judged: right only for a symmetric A (exit 1)""",
    "explain": """\
Derive the gradients step by step with your own numbers: B = b·1ᵀ, the forward pass, the chain rule.

[bold]Examples[/bold] (each runs as it is, in any folder):

  $ wxb explain -X "1 2; 3 4" -b "5; 6"
      why dL/db = G·1: the broadcast, the forward pass, the chain rule
  $ wxb explain -X "1 2; 3 4" -b "5; 6" --wrt X -G "1 0; 0 1"
      dL/dX with your own upstream gradient
  $ wxb explain -e "relu(W @ X + b)" W="1 -1; 0 1" X="1 2; 3 4" b="0; 0"
      a layer: each node, each Jacobian, each backward step
  $ wxb explain -X "1 2; 3 4" -b "5; 6" -o steps.md
      the same steps as Markdown (from the suffix; .tex gives LaTeX)""",
    "derive": """\
Write each gradient dL/dθ as a formula in wxb's expression language, from shapes, names or data.

[bold]Examples[/bold] (each runs as it is, in any folder):

  $ wxb derive -e "sum((W @ X + b - Y) ** 2)" --wrt W
      from names alone: dL/dW = 2 * (W @ X + b - Y) @ X.T
  $ wxb derive -e "sum(tanh(W @ X + b))" W=3x4 X=4x10 b=3 --wrt all
      from shapes: the sum over the broadcast axis is written out
  $ wxb derive -e "sum(W @ X)" W="1 2; 3 4" X="1 0; 0 1" --eval
      from data: each formula, then its value
  $ wxb derive -e "x.T @ A @ x" x=n A=nxn --assume A=symmetric --wrt x
      with what A is: dL/dx = 2 * A @ x
  $ wxb derive -e "sum((X @ w - y) ** 2)" X=mxn w=n y=m --wrt w -f numpy
      as a NumPy function of X, w and y (also -f latex, markdown, json)""",
    "convert": """\
Convert large text to .npy in bounded memory, so that it can stream (forward and backward --chunk).

[bold]Examples[/bold] (each runs as it is, in any folder):

  $ printf "1,2\\n3,4\\n" > X.csv
  $ wxb convert X.csv -o X.npy
      a CSV as .npy, which forward and backward then stream in blocks
  $ printf "1 2\\n3 4\\n" | wxb convert - -o X.npy --transpose
      the rows are samples: their transpose, one sample per column
  $ printf "a,b\\n1,2\\n" | wxb convert - -o X.npy --header -q
      skip a header row, without the note that says so""",
    "demo": """\
Run the seed example, no files needed: W = I, X = [[1,2],[3,4]], b = [5;6].

[bold]Examples[/bold] (each runs as it is, in any folder):

  $ wxb demo
      the seed: f = W·X ⊕ b, its Jacobian blocks, dL/db = G·1
  $ wxb demo -f text
      the same as plain text (what a pipe gets)
  $ wxb demo -o demo.txt
      into a file""",
}
