import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


def _require_non_negative_int(value, name):
    value = _require_int(value, name)
    if value < 0:
        raise ValueError(f"parameter '{name}' must be a non-negative integer, got {value}")
    return value


class ListLcmEnv(gymnasium.Env):
    """Find the least common multiple of a list of positive integers: the smallest positive integer
    divisible by every number in the list (1 for an empty list). Observe shows the numbers; combine
    them pairwise with Gcd, DivideExact and Multiply and submit the exact LCM as an integer with
    Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.GCD = 1
        self.DIVIDE_EXACT = 2
        self.MULTIPLY = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "Gcd": self.GCD,
            "DivideExact": self.DIVIDE_EXACT,
            "Multiply": self.MULTIPLY,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "ListLcmEnv@"
        if not env_str.startswith(prefix):
            return None
        return ListLcmEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        # nums: the positive integers whose least common multiple is wanted (may be empty)
        self.nums = list(options.get("nums", []))
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        result = 1
        for x in self.nums:
            a, b = result, x
            while b:
                a, b = b, a % b
            result = result // a * x
        return result

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.GCD:
                if "a" in params and "b" in params:
                    msg = self.Gcd(params["a"], params["b"])
                else:
                    msg = "Error: 'a' or 'b' parameter is missing for Gcd action."
            elif action_code == self.DIVIDE_EXACT:
                if "a" in params and "b" in params:
                    msg = self.DivideExact(params["a"], params["b"])
                else:
                    msg = "Error: 'a' or 'b' parameter is missing for DivideExact action."
            elif action_code == self.MULTIPLY:
                if "a" in params and "b" in params:
                    msg = self.Multiply(params["a"], params["b"])
                else:
                    msg = "Error: 'a' or 'b' parameter is missing for Multiply action."
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    # --- tools ---
    def Observe(self):
        r"""
        Return the list of positive integers whose least common multiple (the smallest
        positive integer divisible by every one of them; 1 for an empty list) is wanted.

        Returns:
            str: JSON of the list of numbers.

        Example Output:
            "[4, 6, 10]"
        """
        return json.dumps(self.nums)

    def Gcd(self, a, b):
        r"""
        Compute the greatest common divisor of two non-negative integers with Euclid's
        algorithm (gcd(a, 0) = a). Useful because lcm(a, b) = a * (b / gcd(a, b)).

        Args:
            a (int): a non-negative integer.
            b (int): a non-negative integer.

        Returns:
            str: gcd(a, b) as an integer.

        Example Output:
            "2"
        """
        a = _require_non_negative_int(a, "a")
        b = _require_non_negative_int(b, "b")
        while b:
            a, b = b, a % b
        return str(a)

    def DivideExact(self, a, b):
        r"""
        Divide a by b when b divides a exactly (no remainder allowed).

        Args:
            a (int): the non-negative dividend.
            b (int): the positive divisor, which must divide a.

        Returns:
            str: the quotient a / b as an integer.

        Example Output:
            "5"
        """
        a = _require_non_negative_int(a, "a")
        b = _require_non_negative_int(b, "b")
        if b == 0:
            raise ValueError("division by zero: parameter 'b' must be positive")
        if a % b != 0:
            raise ValueError(f"{b} does not divide {a} exactly (remainder {a % b})")
        return str(a // b)

    def Multiply(self, a, b):
        r"""
        Multiply two non-negative integers exactly.

        Args:
            a (int): a non-negative integer.
            b (int): a non-negative integer.

        Returns:
            str: the product a * b as an integer.

        Example Output:
            "60"
        """
        a = _require_non_negative_int(a, "a")
        b = _require_non_negative_int(b, "b")
        return str(a * b)

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the least common multiple of all numbers in the list (1 if the list is empty).

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 60, reference answer: 60, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        nums = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        current = 1
        for x in nums:
            g = int(self.step(json.dumps({"name": "Gcd", "parameters": {"a": current, "b": x}}))[1])
            factor = int(self.step(json.dumps({"name": "DivideExact", "parameters": {"a": x, "b": g}}))[1])
            multiply = {"name": "Multiply", "parameters": {"a": current, "b": factor}}
            current = int(self.step(json.dumps(multiply))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": current}}))[1]


if __name__ == "__main__":
    env = ListLcmEnv.from_env_str('ListLcmEnv@{"nums": [4, 6, 10]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = ListLcmEnv.from_env_str('ListLcmEnv@{"nums": [7, 7, 1, 21]}')
    print(env.solve())
    print("step count:", env.step_count)
