import gymnasium
import ast
import json
from fractions import Fraction


def _parse_fraction(value, name):
    if not isinstance(value, str):
        raise ValueError(f"parameter '{name}' must be a string like \"3/4\"")
    parts = value.strip().split("/")
    if len(parts) != 2:
        raise ValueError(f"parameter '{name}' must look like \"a/b\", got {json.dumps(value)}")
    numbers = []
    for part in parts:
        text = part.strip()
        digits = text[1:] if text[:1] in ("+", "-") else text
        if not digits or not all("0" <= ch <= "9" for ch in digits):
            raise ValueError(f"parameter '{name}' must look like \"a/b\" with integers a, b, got {json.dumps(value)}")
        numbers.append(int(text))
    if numbers[1] == 0:
        raise ValueError(f"parameter '{name}' has a zero denominator")
    return Fraction(numbers[0], numbers[1])


def _format(fraction):
    return f"{fraction.numerator}/{fraction.denominator}"


class FractionSumEnv(gymnasium.Env):
    """Add up a list of fractions given as strings "a/b" (the numerator or the denominator may be
    negative). Observe shows the fractions; use ParseFraction and AddFractions and submit the sum
    with Done as a string "p/q" in lowest terms with a positive denominator, writing an integer n
    as "n/1" and zero as "0/1"."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.PARSE_FRACTION = 1
        self.ADD_FRACTIONS = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ParseFraction": self.PARSE_FRACTION,
            "AddFractions": self.ADD_FRACTIONS,
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
        prefix = "FractionSumEnv@"
        if not env_str.startswith(prefix):
            return None
        return FractionSumEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.fractions = [str(f) for f in options.get("fractions", [])]
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        total = Fraction(0)
        for text in self.fractions:
            total += _parse_fraction(text, "fraction")
        return _format(total)

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
            elif action_code == self.PARSE_FRACTION:
                if "fraction" in params:
                    msg = self.ParseFraction(params["fraction"])
                else:
                    msg = "Error: 'fraction' parameter is missing for ParseFraction action."
            elif action_code == self.ADD_FRACTIONS:
                if "a" in params and "b" in params:
                    msg = self.AddFractions(params["a"], params["b"])
                else:
                    msg = "Error: 'a' or 'b' parameter is missing for AddFractions action."
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
        Return the fractions (strings "a/b") to be summed.

        Returns:
            str: JSON list of fraction strings.

        Example Output:
            "[\"1/2\", \"1/3\", \"-2/6\"]"
        """
        return json.dumps(self.fractions)

    def ParseFraction(self, fraction):
        r"""
        Parse a fraction "a/b" and return it in lowest terms with a positive denominator.

        Args:
            fraction (str): the fraction, e.g. "6/-8".

        Returns:
            str: the reduced fraction "p/q".

        Example Output:
            "-3/4"
        """
        return _format(_parse_fraction(fraction, "fraction"))

    def AddFractions(self, a, b):
        r"""
        Add two fractions given as "p/q" strings.

        Args:
            a (str): the first fraction, e.g. "1/2".
            b (str): the second fraction, e.g. "1/3".

        Returns:
            str: the sum in lowest terms as "p/q" (q >= 1; an integer n is written "n/1").

        Example Output:
            "5/6"
        """
        return _format(_parse_fraction(a, "a") + _parse_fraction(b, "b"))

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (str): the sum of all fractions in lowest terms as "p/q" (q >= 1, e.g. "0/1", "-7/12", "3/1").

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 1/2, reference answer: 1/2, result: correct, reward=1"
        """
        if not isinstance(answer, str):
            raise ValueError("parameter 'answer' must be a string like \"p/q\"")
        ref_answer = self.get_ref_answer()
        correct = answer.strip() == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        fractions = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        total = "0/1"
        for text in fractions:
            reduced = self.step(json.dumps({"name": "ParseFraction", "parameters": {"fraction": text}}))[1]
            total = self.step(json.dumps({"name": "AddFractions", "parameters": {"a": total, "b": reduced}}))[1]
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": total}}))[1]


if __name__ == "__main__":
    env = FractionSumEnv.from_env_str('FractionSumEnv@{"fractions": ["1/2", "1/3", "-2/6"]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = FractionSumEnv.from_env_str('FractionSumEnv@{"fractions": ["3/4", "1/4", "5/10"]}')
    print(env.solve())
    print("step count:", env.step_count)
